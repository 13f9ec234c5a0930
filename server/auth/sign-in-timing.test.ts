import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createLogger } from '../../common/logger';
import { createMigratedDatabases } from '../../test/databases';
import { createApp } from '../app';
import { createSymbolDirectory } from '../symbols/symbol-directory';
import { createLimits } from '../limits/limits';
import { createAuthStore } from './gotrue.store';
import { createGoTrueRoutes } from './gotrue.routes';
import { verifyPassword } from './passwords';
import { createTokenVerifier } from './token-verifier';

/**
 * Enumeration by timing: scrypt is the whole cost of a sign-in, so both paths
 * must run it exactly once, with the same parameters. Counted, not timed.
 */
describe('sign-in costs one scrypt whether or not the email exists', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let db: Db;
  let app: ReturnType<typeof createApp>;
  const verified: string[] = [];
  const jwtSecret = 'timing-secret-'.padEnd(48, 't');
  const post = (path: string, body: unknown) =>
    app.request(`/auth/v1${path}`, { method: 'POST', headers: { apikey: 'test-api-key', 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const signIn = (email: string, password: string) => post('/token?grant_type=password', { email, password });

  beforeAll(async () => {
    databases = await createMigratedDatabases();
    db = createDb({ connectionString: databases.chatUrl, max: 2 });
    const log = createLogger({ level: 'silent' });
    const verifyToken = createTokenVerifier({ jwtSecret, issuer: 'http://localhost/auth/v1' });
    const limits = createLimits({ pool: db.pool, config: { signIn: { attempts: 100, windowSeconds: 60 }, account: { freeAttempts: 100, maxDelaySeconds: 1 } } });
    const authRoutes = createGoTrueRoutes({
      store: createAuthStore(db),
      verifyToken,
      jwtSecret,
      issuer: 'http://localhost/auth/v1',
      isApiKey: async (key) => key === 'test-api-key',
      accessTokenTtlSeconds: 60,
      limits,
      trustProxyHops: 0,
      passwordHash: { cost: 2 ** 10 },
      verifyPassword: (password, stored) => {
        verified.push(stored);
        return verifyPassword(password, stored);
      },
      log,
    });
    app = createApp({ chatDb: db, tradingDb: db, verifyToken, log, authRoutes, publicConfig: { supabaseUrl: '', supabaseAnonKey: 'test-api-key' }, symbolDirectory: createSymbolDirectory({ kind: 'simulated' }) });
  });
  afterAll(async () => {
    await db.close();
    await databases.drop();
  });

  it('verifies once against a hash with the real parameters for an unknown email, a wrong password and a user without a password', async () => {
    expect((await post('/signup', { email: 'known@example.com', password: 'correct horse battery' })).status).toBe(200);
    await db.query(`insert into auth.users (email, encrypted_password) values ('nopassword@example.com', null)`);
    const [known] = await db.query<{ encrypted_password: string }>(`select encrypted_password from auth.users where email = 'known@example.com'`);
    const realHash = known!.encrypted_password;
    const params = (hash: string) => hash.split('$').slice(0, 4).join('$');

    for (const email of ['nobody@example.com', 'known@example.com', 'nopassword@example.com']) {
      verified.length = 0;
      const res = await signIn(email, 'wrong password');
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('invalid_credentials');
      expect(verified, email).toHaveLength(1);
      expect(params(verified[0]!)).toBe(params(realHash));
    }
  });

  it('in-process requests (no socket) are limited in one explicit bucket, not a 500', async () => {
    const res = await signIn('nobody@example.com', 'x');
    expect(res.status).toBe(400);
  });
});
