import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';

type ErrorJson = { error: { code: string; message: string } };

/**
 * Every edge that takes free text refuses NUL and other control characters
 * with 400 validation_failed (PostgreSQL refuses NUL, which was a 500), and
 * writes nothing.
 */
describe('control characters in text input', () => {
  let server: TestServer;
  let token: string;
  let userId: string;
  let socket: ClientSocket;

  beforeAll(async () => {
    server = await startTestServer();
    ({ accessToken: token, userId } = await server.signUp());
    socket = await connectSocket(server.url, token);
  });
  afterAll(async () => {
    socket?.close();
    await server?.close();
  });

  const displayName = async () =>
    (await server.chatDb.query<{ display_name: string | null }>('select display_name from public.profiles where user_id = $1', [userId]))[0]!.display_name;

  it('PATCH /api/me refuses a display name with NUL or another control character and keeps the old one', async () => {
    const patch = (name: unknown) =>
      fetch(`${server.url}/api/me`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ displayName: name }),
      });
    expect((await patch('Satoshi')).status).toBe(200);
    for (const name of ['\u0000', 'Sat\u0000oshi', 'red\u001b[31m', 'two\nlines', 'c1\u0085']) {
      const res = await patch(name);
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
      const body = (await res.json()) as ErrorJson;
      expect(body.error.code).toBe('validation_failed');
      expect(body.error.message).toContain('control characters');
    }
    expect(await displayName()).toBe('Satoshi');
  });

  it('sign-up refuses metadata with a control character in a key or a value, at any depth, and creates no user', async () => {
    const signUp = (email: string, data: unknown) =>
      fetch(`${server.url}/auth/v1/signup`, {
        method: 'POST',
        headers: { apikey: server.anonKey, 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: 'correct horse battery', data }),
      });
    const cases = [{ name: 'x\u0000' }, { 'k\u0000': 'v' }, { profile: { tags: ['ok', 'bad\u0007'] } }];
    for (const [i, data] of cases.entries()) {
      const email = `nul-meta-${i}-${Date.now()}@example.com`;
      const res = await signUp(email, data);
      expect({ i, status: res.status }).toEqual({ i, status: 400 });
      expect(((await res.json()) as ErrorJson).error.code).toBe('validation_failed');
      expect(await server.chatDb.query('select 1 from auth.users where email = $1', [email])).toHaveLength(0);
    }
    // Ordinary metadata, multi-line values included, still signs up.
    const ok = await signUp(`meta-ok-${Date.now()}@example.com`, { name: 'Satoshi 🚀', bio: 'line one\nline two' });
    expect(ok.status).toBe(200);
  });

  it('a refresh token with NUL is an invalid grant (400), not a 500', async () => {
    const res = await fetch(`${server.url}/auth/v1/token?grant_type=refresh_token`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: 'abcdefghij\u0000klm' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorJson).error.code).toBe('invalid_grant');
  });

  it('POST /chat refuses a message with a control character before anything is charged', async () => {
    const res = await fetch(`${server.url}/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': 'nul-rest-1' },
      body: JSON.stringify({ message: 'what about BTC?\u0000' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorJson).error.code).toBe('validation_failed');
    expect(await server.chatDb.query('select 1 from public.credits_ledger where request_id = $1', ['nul-rest-1'])).toHaveLength(0);
  });

  it('chat:send acks validation_failed for a control character, and takes newlines and tabs', async () => {
    const send = (id: string, message: string) =>
      socket.timeout(5_000).emitWithAck('chat:send', { id, message }) as Promise<{ ok: boolean; error?: { code: string; message: string } }>;
    for (const [i, message] of ['hi\u0000', 'bell\u0007', 'c1\u009b'].entries()) {
      const ack = await send(`nul-socket-${i}`, message);
      expect(ack.ok).toBe(false);
      expect(ack.error).toMatchObject({ code: 'validation_failed', message: expect.stringContaining('control characters') });
    }
    expect(await server.chatDb.query(`select 1 from public.credits_ledger where request_id like 'nul-socket-%'`)).toHaveLength(0);
    expect(await send('multi-line-1', 'first line\n\tsecond line')).toMatchObject({ ok: true });
  });

  it('signals:subscribe acks validation_failed for a symbol with a control character', async () => {
    const ack = (await socket.timeout(5_000).emitWithAck('signals:subscribe', { symbols: ['BTC\u0000/USDT'] })) as { ok: boolean; error?: { code: string } };
    expect(ack).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
  });
});
