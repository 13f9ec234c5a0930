import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../common/embedded-postgres';
import { migrate } from '../common/migrate';

const SQL_DIR = path.resolve(import.meta.dirname, '../sql');

export interface BenchDatabases {
  tradingUrl: string;
  chatUrl: string;
  /** True when this run created them (throw-away embedded cluster). */
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * The benchmark's databases: TRADING_DATABASE_URL / CHAT_DATABASE_URL when
 * given (used as they are, migrated), otherwise a throw-away embedded
 * PostgreSQL in a temp directory, removed afterwards. Shared by
 * bench/pipeline.ts and bench/push.ts.
 */
export async function openBenchDatabases(): Promise<BenchDatabases> {
  const given = { trading: process.env.TRADING_DATABASE_URL, chat: process.env.CHAT_DATABASE_URL };
  let urls: { trading: string; chat: string };
  let close = async () => undefined as void;
  let embedded = false;
  if (given.trading && given.chat) {
    urls = { trading: given.trading, chat: given.chat };
  } else {
    if (given.trading || given.chat) throw new Error('set both TRADING_DATABASE_URL and CHAT_DATABASE_URL, or neither for an embedded database');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-bench-pg-'));
    // The postgres OS user (created when running as root) must be able to reach it.
    await chmod(dir, 0o755);
    const server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), password: `bench-${process.pid}` });
    await server.createDatabaseIfMissing('chat');
    await server.createDatabaseIfMissing('trading');
    urls = { trading: server.urlFor('trading'), chat: server.urlFor('chat') };
    embedded = true;
    close = async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  for (const [url, name] of [
    [urls.chat, 'chat'],
    [urls.trading, 'trading'],
  ] as const) {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on('error', () => undefined);
    try {
      await migrate(pool, path.join(SQL_DIR, name));
    } finally {
      await pool.end();
    }
  }
  return { tradingUrl: urls.trading, chatUrl: urls.chat, embedded, close };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
