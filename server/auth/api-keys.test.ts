import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signApiKey } from '../../common/secrets';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../../test/test-server';

const signUp = (server: TestServer, apikey: string) =>
  fetch(`${server.url}/auth/v1/signup`, {
    method: 'POST',
    headers: { apikey, 'content-type': 'application/json' },
    body: JSON.stringify({ email: `k${Math.random()}@example.com`, password: 'correct horse battery' }),
  });

/** API keys are JWTs of the project secret: a key minted anywhere is valid on every instance. */
describe('embedded auth API keys', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('accepts an anon or service key minted elsewhere with the same secret', async () => {
    // Not the string this instance derives (other claims, as Supabase's dashboard mints them): checked by signature, not compared.
    for (const role of ['anon', 'service_role'] as const) {
      const key = await new SignJWT({ role, iss: 'supabase', ref: 'elsewhere' })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuedAt()
        .setExpirationTime('1y')
        .sign(new TextEncoder().encode(TEST_JWT_SECRET));
      expect(key).not.toBe(server.anonKey);
      expect((await signUp(server, key)).status).toBe(200);
    }
  });

  it('refuses a key of another secret, a user token as a key, and garbage', async () => {
    const foreign = await signApiKey('another-project-secret-'.padEnd(48, 'z'), 'anon');
    const userToken = await new SignJWT({ role: 'authenticated' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(TEST_JWT_SECRET));
    for (const key of [foreign, userToken, 'garbage']) {
      const response = await signUp(server, key);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: { code: 'invalid_apikey' } });
    }
  });
});
