import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/test-server';

/** Two server instances on the same databases: a limit must count across both. */
describe('limits shared by every server instance (Postgres store)', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    const overrides = { AUTH_RATE_LIMIT_ATTEMPTS: '4', CHAT_MAX_PER_MINUTE: '2' };
    a = await startTestServer(overrides);
    b = await startTestServer(overrides, { sameDatabasesAs: a });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const signIn = (server: TestServer, email: string, password: string) =>
    fetch(`${server.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });

  it('failed sign-ins split across two instances lock the address on both', async () => {
    const { email } = await a.signUp();
    for (const server of [a, b, a, b]) expect((await signIn(server, email, 'wrong password')).status).toBe(400);
    expect((await signIn(a, email, 'correct horse battery')).status).toBe(429);
    expect((await signIn(b, email, 'correct horse battery')).status).toBe(429);
  });

  it('chat answers per minute split across two instances refuse the next on both', async () => {
    const { accessToken } = await a.signUp();
    const ask = (server: TestServer) =>
      fetch(`${server.url}/chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'How is BTC?' }),
      });
    expect((await ask(a)).status).toBe(200);
    expect((await ask(b)).status).toBe(200);
    const refusedA = await ask(a);
    expect(refusedA.status).toBe(429);
    expect((await refusedA.json()).error.code).toBe('rate_limited');
    expect((await ask(b)).status).toBe(429);
  });

  it('keeps its counters where anon and authenticated cannot reach them', async () => {
    for (const role of ['anon', 'authenticated']) {
      await expect(
        a.chatDb.tx(async (q) => {
          await q.query(`set local role ${role}`);
          await q.query('select * from zmarty_private.rate_limits');
        }),
      ).rejects.toMatchObject({ code: '42501' });
    }
  });
});
