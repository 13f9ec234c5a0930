import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../common/embedded-postgres';
import { migrate } from '../../common/migrate';

const SQL_DIR = path.resolve(import.meta.dirname, '../../sql');

export interface BenchDatabases {
  chatUrl: string;
  tradingUrl: string;
  /** 'embedded' = a throw-away cluster in a temp dir; 'given' = fresh databases on the servers of CHAT/TRADING_DATABASE_URL. */
  source: 'embedded' | 'given';
  /** Drops the databases (and stops + removes an embedded cluster). */
  close(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates a fresh database on the cluster of `adminUrl`, applies `sql/<kind>`, and returns its URL and a drop function. */
export async function createMigratedDatabase(adminUrl: string, kind: 'chat' | 'trading'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `zmarty_bench_${kind}_${randomBytes(4).toString('hex')}`;
  await adminQuery(adminUrl, `create database ${name}`);
  const url = withDatabase(adminUrl, name);
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate(pool, path.join(SQL_DIR, kind));
  } finally {
    await pool.end();
  }
  return { url, drop: () => adminQuery(adminUrl, `drop database if exists ${name} with (force)`) };
}

/**
 * Fresh, migrated chat and trading databases for one benchmark run. With
 * CHAT_DATABASE_URL and TRADING_DATABASE_URL set they are created on those
 * servers (the role needs CREATEDB) and dropped afterwards, so a run never
 * writes bench users into a real database; otherwise an embedded PostgreSQL
 * runs in a temp directory that is removed at the end.
 */
export async function openBenchDatabases(log: (m: string) => void = () => undefined): Promise<BenchDatabases> {
  const given = { chat: process.env.CHAT_DATABASE_URL, trading: process.env.TRADING_DATABASE_URL };
  if (Boolean(given.chat) !== Boolean(given.trading)) {
    throw new Error('set both CHAT_DATABASE_URL and TRADING_DATABASE_URL, or neither for an embedded database');
  }
  if (given.chat && given.trading) {
    const chat = await createMigratedDatabase(withDatabase(given.chat, 'postgres'), 'chat');
    const trading = await createMigratedDatabase(withDatabase(given.trading, 'postgres'), 'trading');
    return {
      chatUrl: chat.url,
      tradingUrl: trading.url,
      source: 'given',
      close: async () => {
        await Promise.all([chat.drop(), trading.drop()]);
      },
    };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-bench-pg-'));
  // The postgres OS user (created when running as root) must be able to reach it.
  await chmod(dir, 0o755);
  log(`starting embedded PostgreSQL in ${dir}`);
  let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  try {
    server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), password: `bench-${process.pid}-${randomBytes(4).toString('hex')}` });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  // embedded-postgres stops the cluster and exits on SIGINT/SIGTERM by itself, before our own cleanup
  // could run: remove the directory on the way out too.
  const removeOnExit = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeOnExit);
  const admin = server.urlFor('postgres');
  try {
    const chat = await createMigratedDatabase(admin, 'chat');
    const trading = await createMigratedDatabase(admin, 'trading');
    return {
      chatUrl: chat.url,
      tradingUrl: trading.url,
      source: 'embedded',
      close: async () => {
        try {
          await server.stop();
        } finally {
          await rm(dir, { recursive: true, force: true });
          process.off('exit', removeOnExit);
        }
      },
    };
  } catch (err) {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    process.off('exit', removeOnExit);
    throw err;
  }
}
