import { appendFile, cp, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
        const { rows } = await pool.query('select name, checksum from public.zmarty_migrations order by name');
        expect(rows.map((r) => r.name)).toEqual(first.applied);

        const second = await migrate(pool, path.join(SQL_DIR, name));
        expect(second.applied).toEqual([]);
        expect(second.skipped).toEqual(first.applied);
      });

      it('refuses to start when an applied file was edited', async () => {
        const copy = await mkdtemp(path.join(os.tmpdir(), 'zmarty-mig-'));
        await cp(path.join(SQL_DIR, name), copy, { recursive: true });
        const { rows } = await pool.query<{ name: string }>('select name from public.zmarty_migrations order by name limit 1');
        await appendFile(path.join(copy, rows[0]!.name), '\n-- edited\n');
        await expect(migrate(pool, copy)).rejects.toThrow(MigrationError);
        await expect(migrate(pool, copy)).rejects.toThrow(/was edited after it was applied/);
      });
    });
  }

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
    const applied = await pool.query('select name from public.zmarty_migrations');
    expect(applied.rows.map((r) => r.name)).toEqual(['0001_ok.sql']);
    await pool.end();
  });
});
