import { appendFile, cp, mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { createTestDatabase, SQL_DIR } from '../test/databases';
import { migrate, MigrationError } from './migrate';

describe('migration runner', () => {
  const dbs: Array<{ drop(): Promise<void> }> = [];
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.drop()));
  });

  for (const name of ['chat', 'trading'] as const) {
    describe(`${name} database`, () => {
      let pool: pg.Pool;
      beforeAll(async () => {
        const db = await createTestDatabase(`mig_${name}`);
        dbs.push(db);
        pool = new pg.Pool({ connectionString: db.url, max: 2 });
      });
      afterAll(async () => {
        await pool.end();
      });

      it('applies every file to an empty database, then a second run is a no-op', async () => {
        const first = await migrate(pool, path.join(SQL_DIR, name));
        expect(first.applied.length).toBeGreaterThan(0);
        expect(first.skipped).toEqual([]);
        const { rows } = await pool.query('select name, checksum from zmarty_private.zmarty_migrations order by name');
        expect(rows.map((r) => r.name)).toEqual(first.applied);

        const second = await migrate(pool, path.join(SQL_DIR, name));
        expect(second.applied).toEqual([]);
        expect(second.skipped).toEqual(first.applied);
      });

      it('refuses to start when an applied file was edited', async () => {
        const copy = await mkdtemp(path.join(os.tmpdir(), 'zmarty-mig-'));
        await cp(path.join(SQL_DIR, name), copy, { recursive: true });
        const { rows } = await pool.query<{ name: string }>('select name from zmarty_private.zmarty_migrations order by name limit 1');
        await appendFile(path.join(copy, rows[0]!.name), '\n-- edited\n');
        await expect(migrate(pool, copy)).rejects.toThrow(MigrationError);
        await expect(migrate(pool, copy)).rejects.toThrow(/was edited after it was applied/);
      });
    });
  }

  it('moves a ledger an earlier version kept in public to zmarty_private, records intact', async () => {
    const db = await createTestDatabase('mig_move');
    dbs.push(db);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-mig-'));
    const sql = 'create table a (id int);';
    await appendFile(path.join(dir, '0001_a.sql'), sql);
    // What the runner left before: the ledger in public, 0001 applied.
    await pool.query(`create table public.zmarty_migrations (name text primary key, checksum text not null, applied_at timestamptz not null default now());
      create table a (id int);`);
    await pool.query(`insert into public.zmarty_migrations (name, checksum) values ('0001_a.sql', $1)`, [createHash('sha256').update(sql).digest('hex')]);
    await appendFile(path.join(dir, '0002_b.sql'), 'create table b (id int);');

    const result = await migrate(pool, dir);
    expect(result).toEqual({ applied: ['0002_b.sql'], skipped: ['0001_a.sql'] });
    const { rows } = await pool.query(`select to_regclass('public.zmarty_migrations') as old, (select array_agg(name order by name) from zmarty_private.zmarty_migrations) as names`);
    expect(rows[0]).toEqual({ old: null, names: ['0001_a.sql', '0002_b.sql'] });
    await pool.end();
  });

  it('accepts a chat database migrated with the first text of 0001 and records the revision', async () => {
    const db = await createTestDatabase('mig_rev');
    dbs.push(db);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const before = path.join(await mkdtemp(path.join(os.tmpdir(), 'zmarty-mig-')), 'chat');
    await cp(path.join(SQL_DIR, 'chat'), before, { recursive: true, filter: (src) => !src.includes('0010_') });
    const v1 = path.resolve(import.meta.dirname, '../test/supabase-shape/0001_supabase_compat.v1.sql');
    await cp(v1, path.join(before, '0001_supabase_compat.sql'));
    await migrate(pool, before);

    const after = await migrate(pool, path.join(SQL_DIR, 'chat'));
    expect(after.skipped).toContain('0001_supabase_compat.sql');
    expect(after.applied).toContain('0010_supabase_privileges.sql');
    const current = createHash('sha256').update(await readFile(path.join(SQL_DIR, 'chat', '0001_supabase_compat.sql'))).digest('hex');
    const { rows } = await pool.query(`select checksum from zmarty_private.zmarty_migrations where name = '0001_supabase_compat.sql'`);
    expect(rows[0]).toEqual({ checksum: current });
    await pool.end();
  });

  it('names the other tool when a schema was applied without the runner (supabase db push)', async () => {
    const db = await createTestDatabase('mig_push');
    dbs.push(db);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    await migrate(pool, path.join(SQL_DIR, 'chat'));
    // The tables are there, the runner's record of them is not: what pushing 0002… with another tool leaves.
    await pool.query(`delete from zmarty_private.zmarty_migrations where name <> '0001_supabase_compat.sql'`);
    await expect(migrate(pool, path.join(SQL_DIR, 'chat'))).rejects.toThrow(
      /0002_chat_schema.sql failed: relation "tier_grants" already exists.*supabase db push/,
    );
    await pool.end();
  });

  it('refuses to run a migration file outside the runner', async () => {
    const db = await createTestDatabase('mig_outside');
    dbs.push(db);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const sql = await readFile(path.join(SQL_DIR, 'chat', '0001_supabase_compat.sql'), 'utf8');
    await expect(client.query(sql)).rejects.toThrow(/applied by Zmarty itself/);
    const { rows } = await client.query(`select to_regclass('auth.users') as users`);
    expect(rows[0]).toEqual({ users: null });
    await client.end();
  });

  it('rolls back a failing file completely and records nothing for it', async () => {
    const db = await createTestDatabase('mig_fail');
    dbs.push(db);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-mig-'));
    await appendFile(path.join(dir, '0001_ok.sql'), 'create table a (id int);');
    await appendFile(path.join(dir, '0002_bad.sql'), 'create table b (id int); select * from no_such_table;');
    await expect(migrate(pool, dir)).rejects.toThrow(/0002_bad.sql failed/);
    const { rows } = await pool.query(`select to_regclass('public.a') as a, to_regclass('public.b') as b`);
    expect(rows[0]).toEqual({ a: 'a', b: null });
    const applied = await pool.query('select name from zmarty_private.zmarty_migrations');
    expect(applied.rows.map((r) => r.name)).toEqual(['0001_ok.sql']);
    await pool.end();
  });
});
