import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db, type UserClaims } from '../../common/db';
import { createLogger } from '../../common/logger';
import { createMigratedDatabases } from '../../test/databases';
import { createTierChanges } from './tier-changes';
import { applyTierSeeds, createTiers } from './tiers';

describe('tier table', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let db: Db;
  const newUser = async (tier = 'free'): Promise<UserClaims> => {
    const [row] = await db.query<{ id: string }>(`insert into auth.users (email, raw_app_meta_data) values ($1, $2) returning id`, [
      `t${Math.random()}@example.com`,
      JSON.stringify({ tier }),
    ]);
    return { sub: row!.id, role: 'authenticated' };
  };
  const tierOf = async (user: UserClaims) => (await db.query<{ tier: string }>('select tier from public.profiles where user_id = $1', [user.sub]))[0]!.tier;

  /** Polls: a notification reaches the listener after the commit. */
  const eventually = async (check: () => Promise<void>) => {
    for (let i = 0; ; i++) {
      try {
        return await check();
      } catch (err) {
        if (i >= 50) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };

  beforeAll(async () => {
    databases = await createMigratedDatabases();
    db = createDb({ connectionString: databases.chatUrl, max: 4 });
  });
  afterAll(async () => {
    await db?.close();
    await databases?.drop();
  });

  it("never lets a user change their own tier, even with Supabase's default UPDATE grant on every column", async () => {
    const user = await newUser();
    // What Supabase's default privileges give the API roles on a table `postgres` creates in public.
    await db.query('grant update on public.profiles to authenticated');
    try {
      await expect(db.asUser(user, (q) => q.query(`update public.profiles set tier = 'pro' where user_id = auth.uid()`))).rejects.toThrow(
        /cannot change their own tier/,
      );
      expect(await tierOf(user)).toBe('free');
      // The rest of their profile stays theirs to edit.
      await db.asUser(user, (q) => q.query(`update public.profiles set display_name = 'Ann' where user_id = auth.uid()`));
    } finally {
      await db.query('revoke update on public.profiles from authenticated; grant update (display_name, updated_at) on public.profiles to authenticated');
    }
    // The operator (the owner connection) may.
    await db.query(`update public.profiles set tier = 'pro' where user_id = $1`, [user.sub]);
    expect(await tierOf(user)).toBe('pro');
  });

  it('is readable by signed-in users only, and writable by none of the API roles', async () => {
    const user = await newUser();
    const tiers = await db.asUser(user, async (q) => (await q.query<{ tier: string }>('select tier from public.tier_grants order by tier')).rows);
    expect(tiers.map((t) => t.tier)).toEqual(['free', 'pro']);
    await expect(
      db.tx(async (q) => {
        await q.query('set local role anon');
        await q.query('select * from public.tier_grants');
      }),
    ).rejects.toMatchObject({ code: '42501' });
    for (const statement of [
      `update public.tier_grants set max_concurrent = 100`,
      `insert into public.tier_grants (tier, starting_credits) values ('mine', 1000000)`,
      `delete from public.tier_grants where tier = 'pro'`,
    ]) {
      await expect(db.asUser(user, (q) => q.query(statement))).rejects.toMatchObject({ code: '42501' });
      await expect(db.asServiceRole((q) => q.query(statement))).rejects.toMatchObject({ code: '42501' });
    }
  });

  it("reads a user's limits from their tier, and sees a change once the cache time has passed", async () => {
    const user = await newUser('pro');
    const fresh = createTiers({ chatDb: db, cacheMs: 0 });
    const cached = createTiers({ chatDb: db, cacheMs: 60_000 });
    expect(await fresh.forUser(user.sub)).toEqual({ tier: 'pro', startingCredits: 20000, chatPerMinute: 120, maxConcurrent: 4, maxOutputTokens: 2048, voiceAllowed: true });
    await cached.forUser(user.sub);
    await db.query(`update public.profiles set tier = 'free' where user_id = $1`, [user.sub]);
    expect(await fresh.forUser(user.sub)).toMatchObject({ tier: 'free', maxOutputTokens: 1024, maxConcurrent: 2, chatPerMinute: 40 });
    // Without the database's notification (tier-changes.ts, below), an instance applies the old tier within its cache time.
    expect(await cached.forUser(user.sub)).toMatchObject({ tier: 'pro' });
    await expect(fresh.forUser('00000000-0000-0000-0000-000000000000')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('reads a tier past half its cache time again in the background: the caller never waits, and a change is seen within the cache time', async () => {
    const user = await newUser('pro');
    let reads = 0;
    const counting: Db = { ...db, query: (text, values) => (reads++, db.query(text, values)) };
    let clock = 1_000_000;
    const tiers = createTiers({ chatDb: counting, cacheMs: 1000, now: () => clock });
    const waitForReads = async (n: number) => {
      for (let i = 0; i < 100 && reads < n; i++) await new Promise((r) => setTimeout(r, 10));
    };

    expect(await tiers.forUser(user.sub)).toMatchObject({ tier: 'pro' });
    expect(reads).toBe(1);
    clock += 400; // young: served, nothing read
    expect(await tiers.forUser(user.sub)).toMatchObject({ tier: 'pro' });
    expect(reads).toBe(1);

    await db.query(`update public.profiles set tier = 'free' where user_id = $1`, [user.sub]);
    clock += 200; // past half: still served at once (the old tier, within the documented time), read again meanwhile
    expect(await tiers.forUser(user.sub)).toMatchObject({ tier: 'pro' });
    await waitForReads(2);
    await new Promise((r) => setTimeout(r, 20));
    clock += 100;
    expect(await tiers.forUser(user.sub)).toMatchObject({ tier: 'free' });
    expect(reads).toBe(2);

    // Never served past the cache time: an entry that old is read before answering.
    clock += 1_000;
    await db.query(`update public.profiles set tier = 'pro' where user_id = $1`, [user.sub]);
    expect(await tiers.forUser(user.sub)).toMatchObject({ tier: 'pro' });
    expect(reads).toBe(3);
  });

  it('forgets a tier when told it changed, and does not keep what a read sent before the change returns', async () => {
    const user = await newUser('pro');
    let hold: Promise<void> | undefined;
    let reads = 0;
    const gated: Db = {
      ...db,
      query: async (text, values) => {
        reads++;
        const rows = await db.query(text, values);
        await hold;
        return rows as never;
      },
    };
    const tiers = createTiers({ chatDb: gated, cacheMs: 60_000 });
    expect(await tiers.forUser(user.sub)).toMatchObject({ tier: 'pro' });
    await db.query(`update public.profiles set tier = 'free' where user_id = $1`, [user.sub]);
    expect(await tiers.forUser(user.sub)).toMatchObject({ tier: 'pro' });
    tiers.invalidate(user.sub);
    expect(await tiers.forUser(user.sub)).toMatchObject({ tier: 'free' });
    expect(reads).toBe(2);

    // A read that saw the row before a change lands after it: returned to its caller, but not cached.
    tiers.invalidate(user.sub);
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    const early = tiers.forUser(user.sub);
    await new Promise((r) => setTimeout(r, 50));
    await db.query(`update public.profiles set tier = 'pro' where user_id = $1`, [user.sub]);
    tiers.invalidate(user.sub);
    // A caller after the change does not join the read under way.
    const late = tiers.forUser(user.sub);
    release();
    hold = undefined;
    expect(await early).toMatchObject({ tier: 'free' });
    expect(await late).toMatchObject({ tier: 'pro' });
    expect(await tiers.forUser(user.sub)).toMatchObject({ tier: 'pro' });

    // Without a user: every cached tier goes.
    const other = await newUser('free');
    await tiers.forUser(other.sub);
    await db.query(`update public.profiles set tier = 'pro' where user_id = $1`, [other.sub]);
    tiers.invalidate();
    expect(await tiers.forUser(other.sub)).toMatchObject({ tier: 'pro' });
  });

  it("drops a cached tier as soon as the database announces a change: a user's tier, then any tier's limits", async () => {
    const read: string[] = [];
    const counting: Db = { ...db, query: (text, values) => (read.push(String(values?.[0])), db.query(text, values)) };
    const tiers = createTiers({ chatDb: counting, cacheMs: 3_600_000 });
    const changes = createTierChanges({ connection: db.pool.options, log: createLogger({ level: 'silent', name: 'test' }), tiers });
    await changes.ready;
    try {
      const [ann, bob] = [(await newUser('free')).sub, (await newUser('free')).sub];
      expect(await tiers.forUser(ann)).toMatchObject({ tier: 'free', maxOutputTokens: 1024 });
      expect(await tiers.forUser(bob)).toMatchObject({ tier: 'free' });

      // A rolled-back change and a change of anything but the tier announce nothing.
      await db
        .tx(async (q) => {
          await q.query(`update public.profiles set tier = 'pro' where user_id = $1`, [ann]);
          throw new Error('rolled back');
        })
        .catch(() => undefined);
      await db.query(`update public.profiles set display_name = 'Ann' where user_id = $1`, [ann]);
      // Notifications arrive in commit order: once this one is seen, any from the statements above would have been.
      await db.query(`update public.profiles set tier = 'pro' where user_id = $1`, [ann]);
      await eventually(async () => expect(await tiers.forUser(ann)).toMatchObject({ tier: 'pro', maxOutputTokens: 2048 }));
      expect(read).toEqual([ann, bob, ann]);
      // Only Ann's entry went.
      expect(await tiers.forUser(bob)).toMatchObject({ tier: 'free' });
      expect(read).toEqual([ann, bob, ann]);

      // The tier table itself: every cached tier is read again.
      await db.query(`update public.tier_grants set max_output_tokens = 1500 where tier = 'free'`);
      await eventually(async () => expect(await tiers.forUser(bob)).toMatchObject({ tier: 'free', maxOutputTokens: 1500 }));
      expect(await tiers.forUser(ann)).toMatchObject({ tier: 'pro' });
      expect(read.slice(3).sort()).toEqual([ann, bob].sort());
    } finally {
      await db.query(`update public.tier_grants set max_output_tokens = 1024 where tier = 'free'`);
      await changes.close();
    }
  });

  it('applies only the seeds that are set, leaving the rest of the row as the operator left it', async () => {
    await db.query(`update public.tier_grants set voice_allowed = false, max_concurrent = 7 where tier = 'free'`);
    await applyTierSeeds(db, { free: { chatPerMinute: 9, maxOutputTokens: 512 }, pro: { startingCredits: 30000 } });
    const rows = await db.query(
      `select tier, starting_credits, chat_per_minute, max_concurrent, max_output_tokens, voice_allowed from public.tier_grants order by tier`,
    );
    expect(rows).toEqual([
      { tier: 'free', starting_credits: 1000, chat_per_minute: 9, max_concurrent: 7, max_output_tokens: 512, voice_allowed: false },
      { tier: 'pro', starting_credits: 30000, chat_per_minute: 120, max_concurrent: 4, max_output_tokens: 2048, voice_allowed: true },
    ]);
    // A new pro user gets the seeded starting grant.
    const user = await newUser('pro');
    expect((await db.query<{ balance: number }>('select balance from public.credit_balance where user_id = $1', [user.sub]))[0]!.balance).toBe(30000);
  });
});
