import { spawn } from 'node:child_process';
import path from 'node:path';
import { prepareDatabases } from '../common/databases';
import { ConfigError, loadEnv } from '../common/env';
import { createLogger } from '../common/logger';
import { WORKER_NODE_FLAGS } from '../common/node-flags';
import { loadOrCreateSecrets } from '../common/secrets';
import { ensureClientBuilt } from './client-build';
import { superviseChildren } from './supervise-children';
import { loadSupervisorConfig, restartPolicyOf, STOP_MARGIN_MS } from './supervisor.config';

/**
 * `npm start`: the whole product from one command. Prepares the databases
 * (embedded PostgreSQL by default), then runs the web and
 * worker processes exactly as the Procfile does, restarting one that crashes.
 * One Ctrl-C stops everything, the database last.
 */
const ROOT = path.resolve(import.meta.dirname, '..');
const ENTRIES: Record<string, string> = { web: 'server/main.ts', worker: 'pipeline/main.ts' };
const NODE_FLAGS: Record<string, readonly string[]> = { web: [], worker: WORKER_NODE_FLAGS };

async function main() {
  const env = loadEnv();
  const config = loadSupervisorConfig();
  const log = createLogger({ level: config.LOG_LEVEL, name: 'start' });
  if (config.CLIENT_BUILD === 'auto') await ensureClientBuilt((m) => log.info(m));
  const databases = await prepareDatabases(env, (m) => log.debug(m));
  // Each process migrates what it uses when it starts (under an advisory lock), so nothing is applied here.
  if (databases.embedded) log.info({ dataDir: path.resolve(env.DATA_DIR) }, 'embedded PostgreSQL is running');

  // The web process owns no database here (it gets its URL), so it needs the auth's secret and issuer given:
  // with the embedded database they are this machine's (DATA_DIR's secret, localhost); otherwise the operator's.
  const ownAuth =
    databases.embedded && !env.SUPABASE_URL
      ? { SUPABASE_JWT_SECRET: env.SUPABASE_JWT_SECRET ?? (await loadOrCreateSecrets(env.DATA_DIR)).jwtSecret, PUBLIC_URL: env.PUBLIC_URL ?? `http://localhost:${env.PORT}` }
      : {};
  const childEnv = { ...process.env, ...ownAuth, CHAT_DATABASE_URL: databases.chatUrl, TRADING_DATABASE_URL: databases.tradingUrl };
  const supervisor = superviseChildren({
    names: Object.keys(ENTRIES),
    // The IPC channel lets a child notice when this process dies (even by SIGKILL) and exit too.
    spawn: (name) =>
      spawn(process.execPath, [...NODE_FLAGS[name]!, '--import', 'tsx', path.join(ROOT, ENTRIES[name]!)], {
        env: childEnv,
        stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
        cwd: process.cwd(),
      }),
    log,
    policy: restartPolicyOf(config),
    stopGraceMs: config.SHUTDOWN_DRAIN_MS + STOP_MARGIN_MS,
  });
  // A terminal's Ctrl-C reaches the children too; we wait for them, then stop the database.
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'stopping Zmarty');
    void supervisor.stop(0);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const { code } = await supervisor.done;
  await databases.stop().catch((err: unknown) => log.error({ err: err instanceof Error ? err.message : String(err) }, 'stopping the database failed'));
  log.info({ code }, 'Zmarty stopped');
  process.exit(code);
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : `zmarty failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
