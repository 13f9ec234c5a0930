import { embeddedSecretsIfNeeded, prepareDatabases } from '../common/databases';
import { ConfigError, loadEnv } from '../common/env';
import { createLogger } from '../common/logger';
import { startServer } from './server';

/** `web` process entry point (Procfile). `npm start` runs it with the databases prepared. */
async function main() {
  const env = loadEnv();
  const log = createLogger({ level: env.LOG_LEVEL, name: 'server' });
  const databases = await prepareDatabases(env, (m) => log.debug(m));
  const secrets = await embeddedSecretsIfNeeded(env);
  const server = await startServer({ env, log, chatUrl: databases.chatUrl, tradingUrl: databases.tradingUrl, embeddedAuth: secrets });
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
