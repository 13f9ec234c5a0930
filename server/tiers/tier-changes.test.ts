import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createLogger } from '../../common/logger';
import { createMigratedDatabases } from '../../test/databases';
import { createTierChanges } from './tier-changes';
import { createTiers } from './tiers';

describe('tier changes', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let db: Db;
  const log = createLogger({ level: 'silent', name: 'test' });
  const newUser = async (tier: string) =>
    (await db.query<{ id: string }>(`insert into auth.users (email, raw_app_meta_data) values ($1, $2) returning id`, [`tc${Math.random()}@example.com`, JSON.stringify({ tier })]))[0]!
      .id;
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

  it("reach a cached tier at once, from the database's own notification: a user's tier, then any tier's limits", async () => {
    const read: string[] = [];
    const counting: Db = { ...db, query: (text, values) => (read.push(String(values?.[0])), db.query(text, values)) };
    const tiers = createTiers({ chatDb: counting, cacheMs: 3_600_000 });
    const changes = createTierChanges({ connection: db.pool.options, log, tiers });
    await changes.ready;
    try {
      const [ann, bob] = [await newUser('free'), await newUser('free')];
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
});
