import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postFrom } from '../../test/http-from';
import { startTestServer, type TestServer } from '../../test/test-server';

const PASSWORD = 'correct horse battery';

function helpers(server: () => TestServer) {
  const signIn = (email: string, password: string, headers: Record<string, string> = {}, from = '127.0.0.1') =>
    postFrom(from, `${server().url}/auth/v1/token?grant_type=password`, { email, password }, { apikey: server().anonKey, ...headers });
  const signUp = (email: string, password: string, headers: Record<string, string> = {}) =>
    postFrom('127.0.0.1', `${server().url}/auth/v1/signup`, { email, password }, { apikey: server().anonKey, ...headers });
  return { signIn, signUp };
}

describe('sign-in and sign-up limits without a proxy (TRUST_PROXY_HOPS=0)', () => {
  let server: TestServer;
  const { signIn, signUp } = helpers(() => server);
  beforeAll(async () => {
    server = await startTestServer({ AUTH_RATE_LIMIT_ATTEMPTS: '3' });
  });
  afterAll(() => server.close());

  it('a rotating X-Forwarded-For does not escape the failed sign-in limit', async () => {
    const { email } = await server.signUp();
    for (let i = 0; i < 3; i++) {
      expect((await signIn(email, `guess ${i}`, { 'x-forwarded-for': `198.51.100.${i}` })).status).toBe(400);
    }
    const right = await signIn(email, PASSWORD, { 'x-forwarded-for': '198.51.100.99' });
    expect(right.status).toBe(429);
    expect(right.json.error.code).toBe('rate_limited');
  });

  it("another address's failures do not lock the owner out (no shared 'direct' bucket)", async () => {
    const { email } = await server.signUp();
    for (let i = 0; i < 3; i++) expect((await signIn(email, `guess ${i}`, {}, '127.0.0.2')).status).toBe(400);
    expect((await signIn(email, PASSWORD, {}, '127.0.0.2')).status).toBe(429);
    expect((await signIn(email, PASSWORD, {}, '127.0.0.3')).status).toBe(200);
  });

  it('a rotating X-Forwarded-For does not escape the sign-up limit', async () => {
    // The limit is max(30, 3 × attempts) per window, counted before the body is validated.
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) {
      statuses.push((await signUp(`farm${i}@example.com`, 'short', { 'x-forwarded-for': `203.0.113.${i}` })).status);
    }
    expect(statuses[0]).toBe(422);
    expect(statuses.at(-1)).toBe(429);
  });
});

describe('sign-in limits behind one proxy (TRUST_PROXY_HOPS=1)', () => {
  let server: TestServer;
  const { signIn } = helpers(() => server);
  beforeAll(async () => {
    server = await startTestServer({ AUTH_RATE_LIMIT_ATTEMPTS: '3', TRUST_PROXY_HOPS: '1' });
  });
  afterAll(() => server.close());

  it('keys the limit on the right-most X-Forwarded-For entry, not on what the client wrote', async () => {
    const { email } = await server.signUp();
    // The client forges the left part; our proxy appends the real address on the right.
    for (let i = 0; i < 3; i++) expect((await signIn(email, `guess ${i}`, { 'x-forwarded-for': `6.6.6.${i}, 192.0.2.1` })).status).toBe(400);
    expect((await signIn(email, PASSWORD, { 'x-forwarded-for': '6.6.6.50, 192.0.2.1' })).status).toBe(429);
    expect((await signIn(email, PASSWORD, { 'x-forwarded-for': '6.6.6.0, 192.0.2.2' })).status).toBe(200);
  });
});
