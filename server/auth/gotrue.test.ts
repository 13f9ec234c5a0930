import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/test-server';

describe('embedded auth with @supabase/supabase-js', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ AUTH_RATE_LIMIT_ATTEMPTS: '3' });
  });
  afterAll(() => server.close());

  it('signs up, signs in, refreshes and reads the user; the new user has a profile and the starting balance', async () => {
    const supabase = server.supabase();
    const email = 'alice@example.com';
    const signUp = await supabase.auth.signUp({ email, password: 'long enough password' });
    expect(signUp.error).toBeNull();
    const userId = signUp.data.user!.id;

    const signIn = await supabase.auth.signInWithPassword({ email, password: 'long enough password' });
    expect(signIn.error).toBeNull();
    const session = signIn.data.session!;
    expect(session.user.email).toBe(email);

    const refreshed = await supabase.auth.refreshSession({ refresh_token: session.refresh_token });
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.session!.refresh_token).not.toBe(session.refresh_token);

    const { data: user, error } = await supabase.auth.getUser(refreshed.data.session!.access_token);
    expect(error).toBeNull();
    expect(user.user!.id).toBe(userId);

    const me = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${session.access_token}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ userId, tier: 'free', balance: 1000, email });
  });

  it('issues tokens with Supabase claims', async () => {
    const { accessToken } = await server.signUp();
    const claims = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({ aud: 'authenticated', role: 'authenticated', iss: 'http://localhost:8080/auth/v1', aal: 'aal1', is_anonymous: false });
    expect(typeof claims.session_id).toBe('string');
    expect(claims.exp - claims.iat).toBe(3600);
  });

  it('refuses a wrong password and an unknown user with the same message', async () => {
    const { email } = await server.signUp();
    const wrong = await server.supabase().auth.signInWithPassword({ email, password: 'not the password' });
    expect(wrong.error?.code).toBe('invalid_credentials');
    expect(wrong.data.session).toBeNull();
    const unknown = await server.supabase().auth.signInWithPassword({ email: 'nobody@example.com', password: 'whatever123' });
    expect(unknown.error?.message).toBe(wrong.error?.message);
  });

  it('rate limits repeated failed sign-ins, with Retry-After', async () => {
    const { email } = await server.signUp();
    for (let i = 0; i < 3; i++) await server.supabase().auth.signInWithPassword({ email, password: 'bad password ' + i });
    const res = await fetch(`${server.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'correct horse battery' }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await res.json()).error.code).toBe('rate_limited');
  });

  it('refuses sign-up metadata over 4 KB with validation_failed and writes nothing (no user, no credit grant)', async () => {
    const email = 'big-metadata@example.com';
    const count = async () =>
      (await server.chatDb.query<{ users: number; grants: number }>(
        `select (select count(*) from auth.users where email = $1)::int as users, (select count(*) from public.credits_ledger)::int as grants`,
        [email],
      ))[0]!;
    const before = await count();
    const res = await server.supabase().auth.signUp({ email, password: 'long enough password', options: { data: { bio: 'x'.repeat(60 * 1024) } } });
    expect(res.error?.status).toBe(400);
    expect(res.error?.code).toBe('validation_failed');
    expect(await count()).toEqual({ users: 0, grants: before.grants });
    // Metadata within the cap still lands in the token.
    const ok = await server.supabase().auth.signUp({ email, password: 'long enough password', options: { data: { name: 'Ann' } } });
    expect(ok.data.user?.user_metadata).toMatchObject({ name: 'Ann' });
  });

  it('rotates refresh tokens; reusing a rotated token revokes the session', async () => {
    const { refreshToken } = await server.signUp();
    const supabase = server.supabase();
    const first = await supabase.auth.refreshSession({ refresh_token: refreshToken });
    expect(first.error).toBeNull();
    const reused = await supabase.auth.refreshSession({ refresh_token: refreshToken });
    expect(reused.error?.code).toBe('invalid_grant');
    // The child of the reused token is revoked too (theft detection).
    const child = await supabase.auth.refreshSession({ refresh_token: first.data.session!.refresh_token });
    expect(child.error?.code).toBe('invalid_grant');
  });

  it('logout revokes refresh tokens', async () => {
    const { accessToken, refreshToken } = await server.signUp();
    const res = await fetch(`${server.url}/auth/v1/logout?scope=global`, {
      method: 'POST',
      headers: { apikey: server.anonKey, authorization: `Bearer ${accessToken}` },
    });
    expect(res.status).toBe(204);
    const after = await server.supabase().auth.refreshSession({ refresh_token: refreshToken });
    expect(after.error?.code).toBe('invalid_grant');
  });

  it('rejects duplicate sign-ups, weak passwords, bad JSON and a missing apikey with JSON errors', async () => {
    const { email } = await server.signUp();
    const dup = await server.supabase().auth.signUp({ email, password: 'another long password' });
    expect(dup.error?.code).toBe('user_already_exists');
    const weak = await server.supabase().auth.signUp({ email: 'weak@example.com', password: 'short' });
    expect(weak.error?.code).toBe('weak_password');

    const badJson = await fetch(`${server.url}/auth/v1/signup`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: '{"email":',
    });
    expect(badJson.status).toBe(400);
    expect((await badJson.json()).error).toEqual({ code: 'bad_request', message: 'The request body is not valid JSON' });

    const noKey = await fetch(`${server.url}/auth/v1/signup`, { method: 'POST', body: '{}' });
    expect(noKey.status).toBe(401);
    expect((await noKey.json()).error.code).toBe('invalid_apikey');
  });
});
