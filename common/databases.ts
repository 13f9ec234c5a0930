import path from 'node:path';
import type { Env } from './env';
import { startEmbeddedPostgres } from './embedded-postgres';
import { embeddedPostgresOsUser, ensureDataDirReachable } from './embedded-postgres-access';
import { loadOrCreateSecrets } from './secrets';

export interface PreparedDatabases {
  chatUrl: string;
  tradingUrl: string;
  embedded: boolean;
  stop(): Promise<void>;
}

/**
 * The two databases: the ones named by CHAT_/TRADING_DATABASE_URL, or — the
 * embedded default — one PostgreSQL cluster under DATA_DIR/pg holding a
 * `chat` and a `trading` database, reused across starts.
 */
export async function prepareDatabases(env: Env, log: (message: string) => void): Promise<PreparedDatabases> {
  if (env.CHAT_DATABASE_URL && env.TRADING_DATABASE_URL) {
    return { chatUrl: env.CHAT_DATABASE_URL, tradingUrl: env.TRADING_DATABASE_URL, embedded: false, stop: async () => undefined };
  }
  // As root the database runs as another OS user, who must be able to reach DATA_DIR/pg.
  const osUser = await embeddedPostgresOsUser();
  if (osUser) await ensureDataDirReachable(env.DATA_DIR, osUser, log);
  const secrets = await loadOrCreateSecrets(env.DATA_DIR);
  const server = await startEmbeddedPostgres({
    dir: path.join(path.resolve(env.DATA_DIR), 'pg'),
    password: secrets.postgresPassword,
    port: env.EMBEDDED_PG_PORT,
    log,
  });
  await server.createDatabaseIfMissing('chat');
  await server.createDatabaseIfMissing('trading');
  return { chatUrl: server.urlFor('chat'), tradingUrl: server.urlFor('trading'), embedded: true, stop: () => server.stop() };
}
