import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate } from '../common/migrate';

export const SQL_DIR = path.resolve(import.meta.dirname, '../sql');

/** Creates a fresh, empty database on the test server and returns its URL. */
export async function createTestDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = inject('adminDatabaseUrl');
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database ${client.escapeIdentifier(name)}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
      await c.end();
    },
  };
}

/** A fresh chat and trading database pair with every migration applied. */
export async function createMigratedDatabases(): Promise<{ chatUrl: string; tradingUrl: string; drop(): Promise<void> }> {
  const chat = await createTestDatabase('chat');
  const trading = await createTestDatabase('trading');
  for (const [db, dir] of [
    [chat, 'chat'],
    [trading, 'trading'],
  ] as const) {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await migrate(pool, path.join(SQL_DIR, dir));
    } finally {
      await pool.end();
    }
  }
  return {
    chatUrl: chat.url,
    tradingUrl: trading.url,
    drop: async () => {
      await Promise.all([chat.drop(), trading.drop()]);
    },
  };
}
