import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/test-server';

/**
 * What a new account starts with, through the product's REST. Anonymous
 * sign-ins exist on Supabase projects that enable them (GoTrue inserts
 * auth.users with is_anonymous = true); the embedded auth has none, so the
 * insert is done here as GoTrue does it and the user's token signed as
 * Supabase signs it (HS256 with the project secret).
 */
describe('starting credits', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  const signInAnonymously = async (server: TestServer): Promise<string> => {
    const id = randomUUID();
    const c = new pg.Client({ connectionString: server.chatUrl });
    await c.connect();
    await c.query(`insert into auth.users (id, aud, role, raw_app_meta_data, is_anonymous) values ($1, 'authenticated', 'authenticated', '{"provider":"anonymous"}', true)`, [id]);
    await c.end();
    return new SignJWT({ role: 'authenticated', is_anonymous: true })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(id)
      .setAudience('authenticated')
      .setIssuer('http://localhost:8080/auth/v1')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(server.jwtSecret));
  };
  const me = async (server: TestServer, token: string, init: RequestInit = {}) => {
    const res = await fetch(`${server.url}/api/me`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    return (await res.json()) as { tier: string; balance: number; displayName: string | null };
  };

  let byDefault: TestServer;
  let configured: TestServer;
  beforeAll(async () => {
    byDefault = await startTestServer();
    servers.push(byDefault);
    configured = await startTestServer({ STARTING_CREDITS_ANONYMOUS: '30', STARTING_CREDITS_FREE: '700' });
    servers.push(configured);
  });

  it('gives an anonymous sign-in no credits by default', async () => {
    expect(await me(byDefault, await signInAnonymously(byDefault))).toMatchObject({ tier: 'free', balance: 0 });
  });

  it('gives an anonymous sign-in STARTING_CREDITS_ANONYMOUS, and a signed-up user their tier grant', async () => {
    expect(await me(configured, await signInAnonymously(configured))).toMatchObject({ tier: 'free', balance: 30 });
    const user = await configured.signUp();
    expect(await me(configured, user.accessToken)).toMatchObject({ tier: 'free', balance: 700 });
  });

  it('never lets a user change their own tier through the profile API', async () => {
    const user = await configured.signUp();
    const body = JSON.stringify({ displayName: 'Whale', tier: 'pro' });
    expect(await me(configured, user.accessToken, { method: 'PATCH', body })).toMatchObject({ displayName: 'Whale', tier: 'free' });
  });
});
