import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

const LEDGER_TABLE = 'public.zmarty_migrations';
// One advisory lock key per database: two processes starting at once must not both apply a file.
const LOCK_KEY = 72_616_173;

/**
 * Applies the `*.sql` files of `dir` in name order, each in its own transaction,
 * recording name and checksum. An applied file whose content changed is refused:
 * migrations are forward-only, so an edit must be a new file.
 */
export async function migrate(pool: pg.Pool, dir: string): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`create table if not exists ${LEDGER_TABLE} (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`);
    const { rows } = await client.query<{ name: string; checksum: string }>(`select name, checksum from ${LEDGER_TABLE}`);
    const applied = new Map(rows.map((r) => [r.name, r.checksum]));
    const result: MigrationResult = { applied: [], skipped: [] };

    for (const file of files) {
      const sql = await readFile(path.join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const known = applied.get(file);
      if (known !== undefined) {
        if (known !== checksum) {
          throw new MigrationError(
            `migration ${path.basename(dir)}/${file} was edited after it was applied (checksum ${known.slice(0, 12)} → ${checksum.slice(0, 12)}); add a new migration instead`,
          );
        }
        result.skipped.push(file);
        continue;
      }
      try {
        await client.query('begin');
        await client.query(sql);
        await client.query(`insert into ${LEDGER_TABLE} (name, checksum) values ($1, $2)`, [file, checksum]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw new MigrationError(`migration ${path.basename(dir)}/${file} failed: ${(err as Error).message}`, { cause: err });
      }
      result.applied.push(file);
    }
    return result;
  } finally {
    await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
