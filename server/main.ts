import path from 'node:path';
import { createDb } from '../common/db';
import { prepareDatabases } from '../common/databases';
import { ConfigError, parseEnv, readEnvSource } from '../common/env';
import { createLogger } from '../common/logger';
import { migrate } from '../common/migrate';
import { loadOrCreateSecrets } from '../common/secrets';
import { embeddedAuthKeys, sharedAuthProblems } from './auth/embedded-keys';
import { parseServerConfig } from './config';
import { createServer } from './server';

const SQL_DIR = path.resolve(import.meta.dirname, '../sql');

/**
 * `web` process entry point (Procfile), its one composition root: the settings
 * are read once from the environment and `.env`, the pools opened and the
 * migrations run once, then the server is built (no I/O) and listens.
 */
async function main() {
  const source = readEnvSource();
  const env = parseEnv(source);
  const config = parseServerConfig(source);
  const log = createLogger({ level: env.LOG_LEVEL, name: 'server' });
  // Before any database work: a setup where instances would disagree on tokens does not start.
  const problems = sharedAuthProblems(env);
  if (problems.length) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  const databases = await prepareDatabases(env, (m) => log.debug(m));
  const chatDb = createDb({ connectionString: databases.chatUrl, max: env.DATABASE_POOL_MAX, applicationName: 'zmarty-server' });
  const tradingDb = createDb({ connectionString: databases.tradingUrl, max: env.DATABASE_POOL_MAX, applicationName: 'zmarty-server' });
  for (const [db, dir] of [
    [chatDb, 'chat'],
    [tradingDb, 'trading'],
  ] as const) {
    const { applied } = await migrate(db.pool, path.join(SQL_DIR, dir));
    if (applied.length) log.info({ database: dir, applied }, 'migrations applied');
  }
  const embeddedAuth = await embeddedAuthKeys(env);
  const webhookSecret = config.webhook.secret ?? (await loadOrCreateSecrets(env.DATA_DIR)).webhookSecret;
  const server = await createServer({ env, config, log, chatDb, tradingDb, webhookSecret, embeddedAuth }).listen();
  log.info({ port: server.port }, `Zmarty is running at ${env.PUBLIC_URL ?? `http://localhost:${server.port}`}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await server.close().catch((err) => log.error({ err }, 'error while closing'));
    await databases.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // Started by `npm start`: if it dies (even by SIGKILL) the IPC channel closes and we follow.
  if (process.send) process.on('disconnect', () => void stop('parent exited'));
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
  } else {
    console.error(`server failed to start: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exit(1);
});
