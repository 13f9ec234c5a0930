import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { parseEnv } from '../common/env';
import { createLogger } from '../common/logger';
import { signApiKey } from '../common/secrets';
import { parseServerConfig } from '../server/config';
import { startServer, type RunningServer, type ServerOptions } from '../server/server';
import { createMigratedDatabases } from './databases';

export interface TestServer extends RunningServer {
  anonKey: string;
  jwtSecret: string;
  /** The fresh databases it runs on (superuser URLs), e.g. for a pipeline in the same test. */
  chatUrl: string;
  tradingUrl: string;
  /** A supabase-js client pointed at the embedded auth, with no session persistence. */
  supabase(): SupabaseClient;
  /** Signs up a fresh user and returns their access token and id. */
  signUp(email?: string, password?: string): Promise<{ accessToken: string; refreshToken: string; userId: string; email: string }>;
}

let counter = 0;
export const TEST_JWT_SECRET = 'test-secret-' + 'x'.repeat(40);
export const TEST_WEBHOOK_SECRET = 'test-webhook-secret-'.padEnd(40, 'w');

/**
 * The real server on port 0 over fresh migrated databases — or, with
 * `extra.sameDatabasesAs`, a second instance on another server's databases
 * (as a second web process would be; closing it leaves them in place).
 */
export async function startTestServer(
  overrides: Record<string, string> = {},
  extra: Partial<Pick<ServerOptions, 'passwordHash' | 'clientDir'>> & { sameDatabasesAs?: Pick<TestServer, 'chatUrl' | 'tradingUrl'> } = {},
): Promise<TestServer> {
  const databases = extra.sameDatabasesAs
    ? { chatUrl: extra.sameDatabasesAs.chatUrl, tradingUrl: extra.sameDatabasesAs.tradingUrl, drop: async () => undefined }
    : await createMigratedDatabases();
  const jwtSecret = TEST_JWT_SECRET;
  const anonKey = await signApiKey(jwtSecret, 'anon');
  const env = parseEnv({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    PUBLIC_URL: 'http://localhost:8080',
    ...overrides,
  });
  // Only what the test says: never the developer's own provider keys from the environment.
  // The answer cache is off unless a test turns it on: tests ask the same questions on the same (empty) market and count provider calls.
  const config = parseServerConfig({ WEBHOOK_SECRET: TEST_WEBHOOK_SECRET, LOCAL_ANALYST_TOKEN_DELAY_MS: '0', CHAT_ANSWER_CACHE_TTL_SECONDS: '0', ...overrides });
  const server = await startServer({
    env,
    config,
    log: createLogger({ level: env.LOG_LEVEL }),
    chatUrl: databases.chatUrl,
    tradingUrl: databases.tradingUrl,
    embeddedAuth: { jwtSecret, anonKey },
    // Cheap hashing keeps tests fast; production uses the memory-hard default.
    passwordHash: extra.passwordHash ?? { cost: 2 ** 10 },
    clientDir: extra.clientDir,
  });
  const supabase = () =>
    createClient(server.url, anonKey, { auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false } });
  return {
    ...server,
    anonKey,
    jwtSecret,
    chatUrl: databases.chatUrl,
    tradingUrl: databases.tradingUrl,
    supabase,
    async signUp(email = `trader${++counter}-${Date.now()}@example.com`, password = 'correct horse battery') {
      const { data, error } = await supabase().auth.signUp({ email, password });
      if (error || !data.session) throw error ?? new Error('no session');
      return { accessToken: data.session.access_token, refreshToken: data.session.refresh_token, userId: data.session.user.id, email };
    },
    async close() {
      await server.close();
      await databases.drop();
    },
  };
}
