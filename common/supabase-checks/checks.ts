import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { migrate } from '../migrate';
import { API_ROLES, CHAT_API_GRANTS, INTERNAL_SCHEMAS, TRADING_API_GRANTS, type ApiRole } from './allowlist';

/**
 * The product's database-level promises, checked on a Supabase-shaped
 * database: the migrations apply as Supabase's non-superuser `postgres`, the
 * Data API's roles hold exactly the allowlisted rights, RLS isolates users,
 * nobody upgrades themselves, users can be deleted, anonymous sign-ins get the
 * configured grant, and the triggers fire when GoTrue writes auth.users.
 * One module, two entry points: `npm run check:supabase` (a real Supabase-
 * shaped cluster) and test/supabase-shape.test.ts (our own fixture).
 */
export interface SupabaseTarget {
  /** Chat database as the migrating role (Supabase's `postgres`). */
  chatUrl: string;
  /** Trading database as the migrating role. */
  tradingUrl: string;
  /** Chat database as GoTrue's role (`supabase_auth_admin`): users are created and deleted as it. */
  authAdminUrl: string;
  /** Chat database as the Data API's login role (`authenticator`), which switches to anon / authenticated / service_role. */
  apiUrl: string;
  /** Schemas the Data API serves (default: public). */
  exposedSchemas?: string[];
  sqlDir: string;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

type Grants = Record<string, Partial<Record<ApiRole, readonly string[]>>>;

class CheckFailed extends Error {}
function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

async function withClient<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'zmarty-check-supabase' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Runs `sql` as PostgREST does: a transaction, SET LOCAL ROLE, the JWT claims. Rolls back unless `commit`. */
async function asApiRole<R extends pg.QueryResultRow>(
  apiUrl: string,
  role: ApiRole | 'service_role',
  sub: string | null,
  sql: string,
  values: unknown[] = [],
  commit = false,
): Promise<pg.QueryResult<R>> {
  return withClient(apiUrl, async (c) => {
    const claims = JSON.stringify(sub ? { sub, role } : { role });
    await c.query(`begin; set local role ${role}`);
    await c.query(`select set_config('request.jwt.claims', $1, true), set_config('request.jwt.claim.sub', $2, true)`, [claims, sub ?? '']);
    try {
      const result = await c.query<R>(sql, values);
      await c.query(commit ? 'commit' : 'rollback');
      return result;
    } catch (err) {
      await c.query('rollback').catch(() => undefined);
      throw err;
    }
  });
}

async function rejects(work: Promise<unknown>, pattern: RegExp): Promise<string> {
  try {
    await work;
  } catch (err) {
    const message = (err as Error).message;
    expect(pattern.test(message), `expected an error matching ${pattern}, got: ${message}`);
    return message;
  }
  throw new CheckFailed(`expected an error matching ${pattern}, but it succeeded`);
}

/** Every privilege each API role holds on each object of the exposed schemas, spelled as in the allowlist. */
export async function apiPrivileges(c: pg.Client, schemas: string[]): Promise<Map<string, Record<ApiRole, string[]>>> {
  const { rows } = await c.query<{ object: string; role: ApiRole; privilege: string }>(
    `with objects as (
       select c.oid, c.relkind, format('%s.%s', n.nspname, c.relname) as object
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
         and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
     ), roles as (select unnest($2::text[]) as role)
     select o.object, r.role, p.privilege
     from objects o cross join roles r
     cross join lateral (
       select t.p as privilege from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) t(p)
       where o.relkind <> 'S' and has_table_privilege(r.role, o.oid, t.p)
       union all
       select format('%s(%s)', t.p, a.attname) from pg_attribute a, unnest(array['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) t(p)
       where o.relkind <> 'S' and a.attrelid = o.oid and a.attnum > 0 and not a.attisdropped
         and not has_table_privilege(r.role, o.oid, t.p) and has_column_privilege(r.role, o.oid, a.attnum, t.p)
       union all
       select t.p from unnest(array['USAGE', 'SELECT', 'UPDATE']) t(p)
       where o.relkind = 'S' and has_sequence_privilege(r.role, o.oid, t.p)
     ) p
     union all
     select format('%s.%s(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)), r.role, 'EXECUTE'
     from pg_proc p join pg_namespace n on n.oid = p.pronamespace cross join (select unnest($2::text[]) as role) r
     where n.nspname = any($1) and has_function_privilege(r.role, p.oid, 'EXECUTE')
       and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')`,
    [schemas, API_ROLES],
  );
  const byObject = new Map<string, Record<ApiRole, string[]>>();
  for (const row of rows) {
    const entry = byObject.get(row.object) ?? { anon: [], authenticated: [] };
    entry[row.role].push(row.privilege);
    byObject.set(row.object, entry);
  }
  return byObject;
}

async function checkGrants(url: string, schemas: string[], allowed: Grants): Promise<string> {
  return withClient(url, async (c) => {
    const actual = await apiPrivileges(c, schemas);
    const problems: string[] = [];
    for (const object of new Set([...actual.keys(), ...Object.keys(allowed)])) {
      for (const role of API_ROLES) {
        const has = new Set(actual.get(object)?.[role] ?? []);
        const may = new Set(allowed[object]?.[role] ?? []);
        const extra = [...has].filter((p) => !may.has(p));
        const missing = [...may].filter((p) => !has.has(p));
        if (extra.length) problems.push(`${role} holds ${extra.join(', ')} on ${object} beyond the allowlist`);
        if (missing.length) problems.push(`${role} lacks ${missing.join(', ')} on ${object} that the product needs`);
      }
    }
    expect(problems.length === 0, problems.join('; '));
    return `${actual.size} objects with API grants, all as allowlisted`;
  });
}

async function checkRls(url: string, schemas: string[]): Promise<string> {
  return withClient(url, async (c) => {
    const { rows: tables } = await c.query<{ name: string; rls: boolean }>(
      `select format('%s.%s', n.nspname, c.relname) as name, c.relrowsecurity as rls
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = any($1) and c.relkind in ('r', 'p')
         and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')`,
      [schemas],
    );
    const without = tables.filter((t) => !t.rls).map((t) => t.name);
    expect(without.length === 0, `tables without row level security: ${without.join(', ')}`);
    // A view runs as its owner unless security_invoker: one the API may read would bypass RLS.
    const { rows: views } = await c.query<{ name: string }>(
      `select format('%s.%s', n.nspname, c.relname) as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname = any($1) and c.relkind in ('v', 'm')
         and not coalesce('security_invoker=true' = any(c.reloptions) or 'security_invoker=on' = any(c.reloptions), false)
         and (has_table_privilege('anon', c.oid, 'SELECT') or has_table_privilege('authenticated', c.oid, 'SELECT'))`,
      [schemas],
    );
    expect(views.length === 0, `views readable by the API that bypass RLS: ${views.map((v) => v.name).join(', ')}`);
    return `${tables.length} tables, every one with RLS; readable views run as the caller`;
  });
}

async function checkInternalSchemas(url: string, schemas: string[]): Promise<string> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ schema: string; role: string }>(
      `select s as schema, r as role from unnest($1::text[]) s, unnest($2::text[]) r
       where to_regnamespace(s) is not null and has_schema_privilege(r, s, 'USAGE')`,
      [INTERNAL_SCHEMAS, API_ROLES],
    );
    expect(rows.length === 0, rows.map((r) => `${r.role} may use schema ${r.schema}`).join('; '));
    const { rows: ledgers } = await c.query<{ name: string }>(
      `select format('%s.%s', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relname = 'zmarty_migrations'`,
    );
    expect(ledgers.length === 1 && ledgers[0]!.name === 'zmarty_private.zmarty_migrations', `migration ledger at ${ledgers.map((l) => l.name).join(', ') || 'nowhere'}, expected zmarty_private.zmarty_migrations only`);
    const exposedLedger = ledgers.some((l) => schemas.includes(l.name.split('.')[0]!));
    expect(!exposedLedger, 'the migration ledger is in an exposed schema');
    return `${INTERNAL_SCHEMAS.join(', ')} closed to ${API_ROLES.join(', ')}; ledger in zmarty_private`;
  });
}

interface TestUser {
  id: string;
  email: string;
}

/** Inserts a user the way GoTrue does: as its own role, into auth.users. */
async function createAuthUser(authAdminUrl: string, options: { anonymous?: boolean } = {}): Promise<TestUser> {
  const id = randomUUID();
  const email = options.anonymous ? null : `check-${id.slice(0, 8)}@example.invalid`;
  await withClient(authAdminUrl, (c) =>
    c.query(
      `insert into auth.users (instance_id, id, aud, role, email, raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at)
       values ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated', $2, $3, '{}', $4, now(), now())`,
      [id, email, JSON.stringify(options.anonymous ? { provider: 'anonymous', providers: [] } : { provider: 'email', providers: ['email'] }), options.anonymous ?? false],
    ),
  );
  return { id, email: email ?? '' };
}

async function deleteAuthUser(authAdminUrl: string, id: string): Promise<void> {
  await withClient(authAdminUrl, (c) => c.query('delete from auth.users where id = $1', [id]));
}

/**
 * Runs every check and returns one result per check (a failed check does not
 * stop the others, except the migrations: without them nothing else means anything).
 */
export async function runSupabaseChecks(target: SupabaseTarget): Promise<CheckResult[]> {
  const schemas = target.exposedSchemas ?? ['public'];
  const results: CheckResult[] = [];
  const run = async (name: string, work: () => Promise<string>): Promise<boolean> => {
    try {
      results.push({ name, ok: true, detail: await work() });
      return true;
    } catch (err) {
      results.push({ name, ok: false, detail: err instanceof CheckFailed ? err.message : `${(err as Error).message}` });
      return false;
    }
  };

  // A user from before the migrations (a project that already had users): only a fresh database has none of ours yet.
  const fresh = await withClient(target.chatUrl, async (c) => {
    const { rows } = await c.query<{ fresh: boolean }>(
      `select to_regclass('zmarty_private.zmarty_migrations') is null and to_regclass('public.zmarty_migrations') is null as fresh`,
    );
    return rows[0]!.fresh;
  });
  const earlyUser = fresh ? await createAuthUser(target.authAdminUrl) : undefined;

  const migrated = await run('migrations apply as the non-superuser owner, and again as a no-op', async () => {
    const out: string[] = [];
    for (const [url, dir] of [
      [target.chatUrl, 'chat'],
      [target.tradingUrl, 'trading'],
    ] as const) {
      await withClient(url, async (c) => {
        const { rows } = await c.query<{ rolsuper: boolean }>('select rolsuper from pg_roles where rolname = current_user');
        expect(!rows[0]!.rolsuper, `${dir}: connected as a superuser; use the role Supabase migrates as (postgres), which is not one`);
      });
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      try {
        const first = await migrate(pool, path.join(target.sqlDir, dir));
        const second = await migrate(pool, path.join(target.sqlDir, dir));
        expect(second.applied.length === 0, `${dir}: a second run applied ${second.applied.join(', ')}`);
        out.push(`${dir}: ${first.applied.length} applied, ${second.skipped.length} recorded`);
      } finally {
        await pool.end();
      }
    }
    return out.join('; ');
  });
  if (!migrated) {
    if (earlyUser) await deleteAuthUser(target.authAdminUrl, earlyUser.id).catch(() => undefined);
    return results;
  }

  await run('migrations refuse to be applied by another tool (supabase db push, psql)', async () => {
    const sql = await readFile(path.join(target.sqlDir, 'chat', '0001_supabase_compat.sql'), 'utf8');
    return withClient(target.chatUrl, async (c) => {
      await c.query('begin');
      try {
        return await rejects(c.query(sql), /applied by Zmarty itself/);
      } finally {
        await c.query('rollback');
      }
    });
  });

  await run('chat: API roles hold exactly the allowlisted privileges in exposed schemas', () => checkGrants(target.chatUrl, schemas, CHAT_API_GRANTS));
  await run('trading: API roles hold no privilege in exposed schemas', () => checkGrants(target.tradingUrl, schemas, TRADING_API_GRANTS));
  await run('chat: every exposed table has RLS', () => checkRls(target.chatUrl, schemas));
  await run('trading: every exposed table has RLS', () => checkRls(target.tradingUrl, schemas));
  await run('chat: internal schemas and the migration ledger are out of the API', () => checkInternalSchemas(target.chatUrl, schemas));

  const created: string[] = earlyUser ? [earlyUser.id] : [];
  try {
    await run('users who existed before the migrations get a profile and the starting grant (backfill)', async () => {
      if (!earlyUser) return 'not run: the chat database had been migrated before (use a fresh one to run it)';
      return withClient(target.chatUrl, async (c) => {
        const { rows } = await c.query<{ tier: string; balance: number; expected: number }>(
          `select p.tier, coalesce((select sum(delta) from public.credits_ledger l where l.user_id = p.user_id), 0)::int as balance,
                  (select starting_credits from public.tier_grants where tier = 'free') as expected
           from public.profiles p where p.user_id = $1`,
          [earlyUser.id],
        );
        expect(rows.length === 1, 'the user from before the migrations has no profile');
        expect(rows[0]!.balance === rows[0]!.expected, `profile ${JSON.stringify(rows[0])}`);
        return `tier ${rows[0]!.tier}, ${rows[0]!.balance} credits`;
      });
    });

    let alice: TestUser | undefined;
    let bob: TestUser | undefined;
    const signedUp = await run('a user inserted by GoTrue gets a profile and the starting grant (trigger)', async () => {
      alice = await createAuthUser(target.authAdminUrl);
      created.push(alice.id);
      bob = await createAuthUser(target.authAdminUrl);
      created.push(bob.id);
      return withClient(target.chatUrl, async (c) => {
        const { rows } = await c.query<{ tier: string; balance: number; expected: number }>(
          `select p.tier, coalesce((select sum(delta) from public.credits_ledger l where l.user_id = p.user_id), 0)::int as balance,
                  (select starting_credits from public.tier_grants where tier = 'free') as expected
           from public.profiles p where p.user_id = $1`,
          [alice!.id],
        );
        expect(rows.length === 1, 'no profile was created for the new user');
        expect(rows[0]!.tier === 'free' && rows[0]!.balance === rows[0]!.expected, `profile ${JSON.stringify(rows[0])}`);
        return `tier free, ${rows[0]!.balance} credits`;
      });
    });
    if (!signedUp || !alice || !bob) return results;
    const a = alice;
    const b = bob;

    await run('RLS isolates users (as authenticated, through the Data API role)', async () => {
      await asApiRole(target.apiUrl, 'authenticated', a.id, `insert into public.user_symbols (symbol, timeframe) values ('BTC/USDT', '1h')`, [], true);
      const seen = await asApiRole<{ n: number; own: number }>(
        target.apiUrl,
        'authenticated',
        b.id,
        `select (select count(*) from public.user_symbols)::int as n,
                (select count(*) from public.profiles where user_id <> auth.uid())::int
              + (select count(*) from public.credits_ledger where user_id <> auth.uid())::int
              + (select count(*) from public.credit_balance where user_id <> auth.uid())::int as own`,
      );
      expect(seen.rows[0]!.n === 0 && seen.rows[0]!.own === 0, `user B saw others' rows: ${JSON.stringify(seen.rows[0])}`);
      const own = await asApiRole<{ n: number }>(target.apiUrl, 'authenticated', a.id, `select count(*)::int as n from public.user_symbols`);
      expect(own.rows[0]!.n === 1, `user A sees ${own.rows[0]!.n} of their 1 symbol`);
      const updated = await asApiRole(target.apiUrl, 'authenticated', b.id, `update public.profiles set display_name = 'pwned' where user_id = $1`, [a.id]);
      expect(updated.rowCount === 0, "user B updated user A's profile");
      await rejects(
        asApiRole(target.apiUrl, 'authenticated', b.id, `insert into public.user_symbols (user_id, symbol) values ($1, 'ETH/USDT')`, [a.id]),
        /row-level security/,
      );
      return "B sees none of A's rows, cannot update them nor insert in A's name";
    });

    await run('a signed-in user cannot raise their tier or write the ledger', async () => {
      await rejects(asApiRole(target.apiUrl, 'authenticated', a.id, `update public.profiles set tier = 'pro' where user_id = auth.uid()`), /permission denied/);
      await rejects(
        asApiRole(target.apiUrl, 'authenticated', a.id, `insert into public.credits_ledger (user_id, delta, reason, request_id) values (auth.uid(), 1000000, 'grant', 'self')`),
        /permission denied/,
      );
      await rejects(asApiRole(target.apiUrl, 'authenticated', a.id, `update public.credits_ledger set delta = 999999`), /permission denied/);
      await rejects(asApiRole(target.apiUrl, 'authenticated', a.id, `delete from public.credits_ledger`), /permission denied/);
      await rejects(asApiRole(target.apiUrl, 'authenticated', a.id, `update public.tier_grants set starting_credits = 1000000`), /permission denied/);
      const renamed = await asApiRole(target.apiUrl, 'authenticated', a.id, `update public.profiles set display_name = 'Alice' where user_id = auth.uid()`);
      expect(renamed.rowCount === 1, 'a user cannot change their own display name');
      return 'tier, ledger and tier grants refused; display name allowed';
    });

    await run('anon reads nothing; internals are closed to every API role', async () => {
      for (const table of ['tier_grants', 'profiles', 'user_symbols', 'credits_ledger', 'credit_balance', 'conversations', 'messages', 'watchers_outbox']) {
        await rejects(asApiRole(target.apiUrl, 'anon', null, `select * from public.${table}`), /permission denied/);
      }
      for (const role of ['anon', 'authenticated'] as const) {
        await rejects(asApiRole(target.apiUrl, role, a.id, `select * from zmarty_private.zmarty_migrations`), /permission denied/);
        await rejects(asApiRole(target.apiUrl, role, a.id, `delete from zmarty_private.zmarty_migrations`), /permission denied/);
      }
      return 'anon: nothing; zmarty_private refused to anon and authenticated';
    });

    await run('a watched pair reaches the outbox (trigger, as the user)', async () => {
      return withClient(target.chatUrl, async (c) => {
        const { rows } = await c.query<{ n: number }>(
          `select count(*)::int as n from public.watchers_outbox where payload -> 'record' ->> 'user_id' = $1 and payload ->> 'type' = 'INSERT'`,
          [a.id],
        );
        expect(rows[0]!.n === 1, `${rows[0]!.n} outbox events for one insert`);
        return 'one INSERT event';
      });
    });

    await run('anonymous sign-ins get the configured grant, none by default', async () => {
      return withClient(target.chatUrl, async (c) => {
        const balanceOf = async (id: string) =>
          (await c.query<{ n: number; p: number }>(
            `select coalesce((select sum(delta) from public.credits_ledger where user_id = $1), 0)::int as n, (select count(*) from public.profiles where user_id = $1)::int as p`,
            [id],
          )).rows[0]!;
        const { rows } = await c.query<{ v: number }>(`select anonymous_starting_credits as v from zmarty_private.signup_settings`);
        const before = rows[0]!.v;
        try {
          await c.query(`update zmarty_private.signup_settings set anonymous_starting_credits = default`);
          const first = await createAuthUser(target.authAdminUrl, { anonymous: true });
          created.push(first.id);
          const none = await balanceOf(first.id);
          expect(none.p === 1 && none.n === 0, `default: anonymous user has ${JSON.stringify(none)}`);
          await c.query(`update zmarty_private.signup_settings set anonymous_starting_credits = 25`);
          const second = await createAuthUser(target.authAdminUrl, { anonymous: true });
          created.push(second.id);
          const some = await balanceOf(second.id);
          expect(some.n === 25, `configured 25: anonymous user has ${some.n}`);
        } finally {
          await c.query(`update zmarty_private.signup_settings set anonymous_starting_credits = $1`, [before]);
        }
        return 'default 0 credits (profile created); 25 when configured';
      });
    });

    await run('deleting a user from auth.users works and keeps their ledger, anonymised', async () => {
      const requestId = `check-${randomUUID()}`;
      await asApiRole(
        target.apiUrl,
        'service_role',
        null,
        `insert into public.credits_ledger (user_id, delta, reason, request_id, question) values ($1, -7, 'reserve', $2, 'a private question')`,
        [a.id, requestId],
        true,
      );
      await withClient(target.chatUrl, async (c) => {
        await rejects(c.query(`update public.credits_ledger set user_id = null where user_id = $1`, [a.id]), /append-only/);
      });
      await deleteAuthUser(target.authAdminUrl, a.id);
      created.splice(created.indexOf(a.id), 1);
      return withClient(target.chatUrl, async (c) => {
        const { rows } = await c.query<{ profiles: number; symbols: number; linked: number; kept: number; question: string | null; delta: number }>(
          `select (select count(*) from public.profiles where user_id = $1)::int as profiles,
                  (select count(*) from public.user_symbols where user_id = $1)::int as symbols,
                  (select count(*) from public.credits_ledger where user_id = $1)::int as linked,
                  (select count(*) from public.credits_ledger where user_id is null and request_id in ($2, 'signup:' || $1))::int as kept,
                  (select question from public.credits_ledger where request_id = $2) as question,
                  (select delta from public.credits_ledger where request_id = $2) as delta`,
          [a.id, requestId],
        );
        const r = rows[0]!;
        expect(r.profiles === 0 && r.symbols === 0 && r.linked === 0, `left behind: ${JSON.stringify(r)}`);
        expect(r.kept === 2 && r.question === null && r.delta === -7, `ledger after deletion: ${JSON.stringify(r)}`);
        const events = await c.query<{ n: number }>(
          `select count(*)::int as n from public.watchers_outbox where payload -> 'old_record' ->> 'user_id' = $1 and payload ->> 'type' = 'DELETE'`,
          [a.id],
        );
        expect(events.rows[0]!.n === 1, `${events.rows[0]!.n} outbox DELETE events for the user's pair`);
        await rejects(c.query(`update public.credits_ledger set delta = 0 where request_id = $1`, [requestId]), /append-only/);
        await rejects(c.query(`delete from public.credits_ledger where request_id = $1`, [requestId]), /append-only/);
        return 'profile and pairs gone, watchers told; 2 ledger rows kept without user or question, still append-only';
      });
    });
  } finally {
    for (const id of created) await deleteAuthUser(target.authAdminUrl, id).catch(() => undefined);
  }
  return results;
}

/** One line per check, for a terminal. */
export function formatResults(results: CheckResult[]): string {
  return results.map((r) => `${r.ok ? 'ok  ' : 'FAIL'}  ${r.name}\n      ${r.detail}`).join('\n');
}
