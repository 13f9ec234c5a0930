import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { prepareDatabases } from '../common/databases';
import { ConfigError, loadEnv } from '../common/env';
import { createLogger } from '../common/logger';
import { migrate } from '../common/migrate';
import pg from 'pg';
import { ensureClientBuilt } from './client-build';

/**
 * `npm start`: the whole product from one command. Prepares the databases
 * (embedded PostgreSQL by default), applies migrations, then runs the web and
 * worker processes exactly as the Procfile does. One Ctrl-C stops everything.
 */
const ROOT = path.resolve(import.meta.dirname, '..');

async function main() {
  const env = loadEnv();
  const log = createLogger({ level: env.LOG_LEVEL, name: 'start' });
  await ensureClientBuilt((m) => log.info(m));
  const databases = await prepareDatabases(env, (m) => log.debug(m));
  for (const [url, dir] of [
    [databases.chatUrl, 'chat'],
    [databases.tradingUrl, 'trading'],
  ] as const) {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const result = await migrate(pool, path.join(ROOT, 'sql', dir));
      if (result.applied.length) log.info({ database: dir, applied: result.applied }, 'migrations applied');
    } finally {
      await pool.end();
    }
  }
  if (databases.embedded) log.info({ dataDir: path.resolve(env.DATA_DIR) }, 'embedded PostgreSQL is running');

  const childEnv = { ...process.env, CHAT_DATABASE_URL: databases.chatUrl, TRADING_DATABASE_URL: databases.tradingUrl };
  const children = new Map<string, ChildProcess>();
  let stopping = false;

  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const child of children.values()) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all([...children.values()].map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await databases.stop();
    process.exit(code);
  };

  for (const [name, entry] of [
    ['web', 'server/main.ts'],
    ['worker', 'pipeline/main.ts'],
  ] as const) {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry)], { env: childEnv, stdio: ['inherit', 'inherit', 'inherit', 'ipc'], cwd: process.cwd() });
    children.set(name, child);
    child.on('exit', (code, signal) => {
      if (stopping) return;
      log.error({ process: name, code, signal }, `${name} process exited; stopping Zmarty`);
      void stopAll(code ?? 1);
    });
  }
  // The IPC channel lets a child notice when this process dies (even by SIGKILL) and exit too.
  // A terminal's Ctrl-C reaches the children too; we wait for them, then stop the database.
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : `zmarty failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
