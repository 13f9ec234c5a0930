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

// Internal: not in `public`, which Supabase's Data API exposes (anyone with the
// anon key could read or delete a public table without RLS).
const LEDGER_SCHEMA = 'zmarty_private';
const LEDGER_TABLE = `${LEDGER_SCHEMA}.zmarty_migrations`;
// Where the ledger lived before; moved on the first run of this version.
const OLD_LEDGER_TABLE = 'public.zmarty_migrations';
// One advisory lock key per database: two processes starting at once must not both apply a file.
const LOCK_KEY = 72_616_173;

/**
 * The one way our migrations are applied. Each file runs with this setting on
 * (transaction-local); sql/chat/0001 refuses to run without it, so pushing the
 * files with another tool (`supabase db push`, psql) stops at the first file
 * with a message saying how to migrate instead of half-applying a schema this
 * runner would then trip over.
 */
export const MIGRATOR_SETTING = 'zmarty.migrator';

/**
 * Files whose text was revised after release without changing what they do to
 * a database that already ran them: `dir/file` → checksums of earlier texts.
 * A database that recorded one of those is accepted and its record updated.
 *
 * chat/0001_supabase_compat.sql: the first text created auth.users with
 * `create table if not exists`, which Supabase refuses (no CREATE on schema
 * auth). The revision creates the same objects, only when they are missing;
 * where the first text ran (plain PostgreSQL) they exist, so both end equal.
 */
const EQUIVALENT_REVISIONS: Record<string, readonly string[]> = {
  'chat/0001_supabase_compat.sql': ['4b0c30b2c258d8077155d6924d0ff9e34fe087fb8c6980b65db267a94b1cb016'],
};

// SQLSTATEs of "the object this file creates is already there".
const ALREADY_EXISTS = new Set(['42P07', '42710', '42P06', '42723', '42P16']);

/**
 * Applies the `*.sql` files of `dir` in name order, each in its own transaction,
 * recording name and checksum. An applied file whose content changed is refused:
 * migrations are forward-only, so an edit must be a new file.
 */
export async function migrate(pool: pg.Pool, dir: string): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const dirName = path.basename(dir);
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [LOCK_KEY]);
    await prepareLedger(client);
    const { rows } = await client.query<{ name: string; checksum: string }>(`select name, checksum from ${LEDGER_TABLE}`);
    const applied = new Map(rows.map((r) => [r.name, r.checksum]));
    const result: MigrationResult = { applied: [], skipped: [] };

    for (const file of files) {
      const sql = await readFile(path.join(dir, file), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      const known = applied.get(file);
      if (known !== undefined) {
        if (known !== checksum) {
          if (EQUIVALENT_REVISIONS[`${dirName}/${file}`]?.includes(known)) {
            await client.query(`update ${LEDGER_TABLE} set checksum = $2 where name = $1`, [file, checksum]);
            result.skipped.push(file);
            continue;
          }
          throw new MigrationError(
            `migration ${dirName}/${file} was edited after it was applied (checksum ${known.slice(0, 12)} → ${checksum.slice(0, 12)}); add a new migration instead`,
          );
        }
        result.skipped.push(file);
        continue;
      }
      try {
        await client.query('begin');
        await client.query(`select set_config($1, 'on', true)`, [MIGRATOR_SETTING]);
        await client.query(sql);
        await client.query(`insert into ${LEDGER_TABLE} (name, checksum) values ($1, $2)`, [file, checksum]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        const code = (err as { code?: string }).code;
        if (code && ALREADY_EXISTS.has(code)) {
          throw new MigrationError(
            `migration ${dirName}/${file} failed: ${(err as Error).message}. Its objects exist but ${LEDGER_TABLE} has no record of it: ` +
              `the schema was applied by another tool (e.g. \`supabase db push\`). Zmarty applies sql/${dirName} itself at start; ` +
              `use a database that only Zmarty migrates (README, "Pointing it at Supabase")`,
            { cause: err },
          );
        }
        throw new MigrationError(`migration ${dirName}/${file} failed: ${(err as Error).message}`, { cause: err });
      }
      result.applied.push(file);
    }
    return result;
  } finally {
    await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}

/** Creates the ledger, moving it out of `public` where an earlier version kept it. */
async function prepareLedger(client: pg.PoolClient): Promise<void> {
  await client.query('begin');
  try {
    await client.query(`create schema if not exists ${LEDGER_SCHEMA}`);
    await client.query(`revoke all on schema ${LEDGER_SCHEMA} from public`);
    const { rows } = await client.query<{ old: string | null; current: string | null }>(
      `select to_regclass($1)::text as old, to_regclass($2)::text as current`,
      [OLD_LEDGER_TABLE, LEDGER_TABLE],
    );
    if (rows[0]!.old && !rows[0]!.current) {
      await client.query(`alter table ${OLD_LEDGER_TABLE} set schema ${LEDGER_SCHEMA}`);
    }
    await client.query(`create table if not exists ${LEDGER_TABLE} (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`);
    // Moved from `public` on Supabase, it carries the grants default privileges gave there.
    await client.query(`revoke all on ${LEDGER_TABLE} from public`);
    await client.query(`do $$
      declare r text;
      begin
        for r in select rolname from pg_roles where rolname in ('anon', 'authenticated', 'service_role') loop
          execute format('revoke all on ${LEDGER_TABLE} from %I', r);
        end loop;
      end $$`);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw new MigrationError(`cannot prepare the migration ledger ${LEDGER_TABLE}: ${(err as Error).message}`, { cause: err });
  }
}
