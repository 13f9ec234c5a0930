import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postFrom } from '../../test/http-from';
import { startTestServer, type TestServer } from '../../test/test-server';

const PASSWORD = 'correct horse battery';

/** Behind one proxy, so each request can come "from" its own address through X-Forwarded-For. */
describe('per-account sign-in delay (guesses from many addresses)', () => {
  let server: TestServer;
  let n = 0;
  const signIn = (email: string, password: string, address = `198.51.100.${++n % 250}`) =>
    postFrom('127.0.0.1', `${server.url}/auth/v1/token?grant_type=password`, { email, password }, { apikey: server.anonKey, 'x-forwarded-for': address });
  const retryAfterMs = (res: { headers: Record<string, unknown> }) => Number(res.headers['retry-after']) * 1000;

  beforeAll(async () => {
    server = await startTestServer({ TRUST_PROXY_HOPS: '1', AUTH_ACCOUNT_FREE_ATTEMPTS: '5', AUTH_ACCOUNT_MAX_DELAY_SECONDS: '2' });
  });
  afterAll(() => server.close());

  it('after 5 failures the next attempt waits, the right password included, and passes once the delay is over', async () => {
    const { email } = await server.signUp();
    for (let i = 0; i < 5; i++) expect((await signIn(email, `guess ${i}`)).status).toBe(400);
    const early = await signIn(email, PASSWORD);
    expect(early.status).toBe(429);
    expect(early.json.error.code).toBe('rate_limited');
    expect(Number(early.headers['retry-after'])).toBe(1);
    await sleep(retryAfterMs(early) + 50);
    expect((await signIn(email, PASSWORD)).status).toBe(200);
    // A success resets the count: five fresh attempts pass again.
    for (let i = 0; i < 5; i++) expect((await signIn(email, `again ${i}`)).status).toBe(400);
  });

  it('the delay doubles with each admitted guess and stops at the cap (AUTH_ACCOUNT_MAX_DELAY_SECONDS)', async () => {
    const { email } = await server.signUp();
    for (let i = 0; i < 5; i++) await signIn(email, `guess ${i}`);
    const waits: number[] = [];
    for (let round = 0; round < 3; round++) {
      const refused = await signIn(email, 'still guessing');
      expect(refused.status).toBe(429);
      waits.push(Number(refused.headers['retry-after']));
      await sleep(retryAfterMs(refused) + 50);
      expect((await signIn(email, 'admitted guess')).status).toBe(400);
    }
    expect(waits).toEqual([1, 2, 2]);
  });

  it("a stranger's guesses never keep the owner out at an address they signed in from before", async () => {
    const { email } = await server.signUp();
    expect((await signIn(email, PASSWORD, '192.0.2.10')).status).toBe(200);
    const strangers = [];
    for (let i = 0; i < 8; i++) strangers.push((await signIn(email, `guess ${i}`)).status);
    expect(strangers).toContain(429);
    expect((await signIn(email, PASSWORD, '192.0.2.10')).status).toBe(200);
    // The success reset the count; a new address is throttled only after fresh failures.
    for (let i = 0; i < 5; i++) await signIn(email, `guess ${i}`);
    expect((await signIn(email, PASSWORD, '192.0.2.77')).status).toBe(429);
  });

  it('concurrent guesses cannot all pass through one open delay', async () => {
    const { email } = await server.signUp();
    for (let i = 0; i < 5; i++) await signIn(email, `guess ${i}`);
    await sleep(1050);
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => signIn(email, `burst ${i}`)));
    expect(burst.filter((r) => r.status === 400)).toHaveLength(1);
    expect(burst.filter((r) => r.status === 429)).toHaveLength(9);
  });
});
