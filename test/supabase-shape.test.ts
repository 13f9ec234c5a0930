import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../common/migrate';
import { runSupabaseChecks, type CheckResult } from '../common/supabase-checks/checks';
import { SQL_DIR } from './databases';
import { createSupabaseShapedDatabases, type SupabaseShapedDatabases } from './supabase-shape/shape';

/**
 * The checks `npm run check:supabase` runs against the kit, run offline on our
 * own Supabase-shaped fixture (test/supabase-shape/shape.sql): a non-superuser
 * migrating role, an auth schema it cannot create in, and default privileges
 * giving the API roles everything in public.
 */
describe('on a Supabase-shaped database', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });
  const shaped = async (): Promise<SupabaseShapedDatabases> => {
    const dbs = await createSupabaseShapedDatabases();
    cleanup.push(() => dbs.drop());
    return dbs;
  };
  const failures = (results: CheckResult[]) => results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`);

  it('the migrations apply and every database-level check passes', async () => {
    const dbs = await shaped();
    const results = await runSupabaseChecks({ ...dbs, sqlDir: SQL_DIR });
    expect(failures(results)).toEqual([]);
    expect(results.find((r) => r.name.includes('backfill'))?.detail).toMatch(/^tier free, \d+ credits$/);
    // Every check ran (a failed migration or sign-up would have skipped the rest).
    expect(results.map((r) => r.name)).toEqual([
      'migrations apply as the non-superuser owner, and again as a no-op',
      'migrations refuse to be applied by another tool (supabase db push, psql)',
      'chat: API roles hold exactly the allowlisted privileges in exposed schemas',
      'trading: API roles hold no privilege in exposed schemas',
      'chat: every exposed table has RLS',
      'trading: every exposed table has RLS',
      'chat: internal schemas and the migration ledger are out of the API',
      'users who existed before the migrations get a profile and the starting grant (backfill)',
      'a user inserted by GoTrue gets a profile and the starting grant (trigger)',
      'RLS isolates users (as authenticated, through the Data API role)',
      'a signed-in user cannot raise their tier or write the ledger',
      'anon reads nothing; internals are closed to every API role',
      'a watched pair reaches the outbox (trigger, as the user)',
      'anonymous sign-ins get the configured grant, none by default',
      'deleting a user from auth.users works and keeps their ledger, anonymised',
    ]);
  });

  it('reproduces what failed on Supabase before: the first 0001 cannot create auth.users', async () => {
    const dbs = await shaped();
    const dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'zmarty-supa-')), 'chat');
    cleanup.push(() => rm(path.dirname(dir), { recursive: true, force: true }));
    await cp(path.join(SQL_DIR, 'chat'), dir, { recursive: true });
    await cp(path.join(import.meta.dirname, 'supabase-shape', '0001_supabase_compat.v1.sql'), path.join(dir, '0001_supabase_compat.sql'));
    const pool = new pg.Pool({ connectionString: dbs.chatUrl, max: 1 });
    cleanup.push(() => pool.end());
    await expect(migrate(pool, dir)).rejects.toThrow(/0001_supabase_compat.sql failed: permission denied for schema auth/);
  });

  it('catches the leaks of migrations that only add grants: self-upgrade, exposed tables, undeletable users', async () => {
    const dbs = await shaped();
    const root = await mkdtemp(path.join(os.tmpdir(), 'zmarty-supa-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    // The migrations as they were before chat/0010 and trading/0006 (later ones build on those).
    const before = (src: string) => {
      const m = /(chat|trading)[\\/](\d{4})_/.exec(src);
      return !m || Number(m[2]) < (m[1] === 'chat' ? 10 : 6);
    };
    await cp(SQL_DIR, root, { recursive: true, filter: before });
    const results = await runSupabaseChecks({ ...dbs, sqlDir: root });
    const failed = new Map(results.filter((r) => !r.ok).map((r) => [r.name, r.detail]));
    expect(failed.get('chat: API roles hold exactly the allowlisted privileges in exposed schemas')).toMatch(
      /authenticated holds .*UPDATE.* on public\.profiles beyond the allowlist/,
    );
    expect(failed.get('trading: API roles hold no privilege in exposed schemas')).toMatch(/anon holds .*TRUNCATE.* on public\.candles/);
    expect(failed.get('a signed-in user cannot raise their tier or write the ledger')).toMatch(/but it succeeded/);
    expect(failed.get('deleting a user from auth.users works and keeps their ledger, anonymised')).toMatch(/append-only/);
  });
});
