/**
 * `npm run migrate`: applies sql/chat to the chat database and sql/trading to
 * the trading database with the same runner the web and worker processes run
 * at start (common/migrate.ts), then exits. For a deploy step that migrates
 * before the processes roll; the processes would otherwise do it themselves.
 */
import path from 'node:path';
import pg from 'pg';
import { prepareDatabases } from '../common/databases';
import { ConfigError, parseEnv, readEnvSource } from '../common/env';
import { migrate } from '../common/migrate';

const SQL_DIR = path.resolve(import.meta.dirname, '../sql');

try {
  const env = parseEnv(readEnvSource());
  const databases = await prepareDatabases(env, () => undefined);
  try {
    for (const [url, dir] of [
      [databases.chatUrl, 'chat'],
      [databases.tradingUrl, 'trading'],
    ] as const) {
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      try {
        const { applied, skipped } = await migrate(pool, path.join(SQL_DIR, dir));
        console.log(`${dir}: ${applied.length ? `applied ${applied.join(', ')}` : 'up to date'} (${skipped.length} already applied)`);
      } finally {
        await pool.end();
      }
    }
  } finally {
    await databases.stop();
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `migration failed: ${(err as Error).message}`);
  process.exit(1);
}
