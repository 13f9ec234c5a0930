import { LRUCache } from 'lru-cache';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import { listTiersSql, seedTierSql, userTierSql, type TierRow } from './tiers.queries';

/** What a user's tier allows (a row of public.tier_grants). */
export type Tier = TierRow;

export interface TiersDeps {
  chatDb: Db;
  /**
   * How long one instance trusts a user's tier before reading it again
   * (TIER_CACHE_MS; 0 = every answer reads it). A change is dropped from the
   * cache as soon as the database announces it (`invalidate`, from
   * tier-changes.ts), so this only bounds one missed while nobody listened.
   * The concurrent-answers cap is not cached at all: the ledger's reserve
   * statement reads it.
   */
  cacheMs?: number;
}

/**
 * The per-user limits, read from the tier table in the chat database — the
 * same for every instance, and changed without a restart (`npm run admin --
 * tier EMAIL pro`, or an UPDATE of public.tier_grants).
 */
export function createTiers({ chatDb, cacheMs = 5000, now = Date.now }: TiersDeps & { now?: () => number }) {
  const cache = cacheMs > 0 ? new LRUCache<string, { tier: Tier; readAt: number }>({ max: 50_000, ttl: cacheMs, ttlResolution: 0, perf: { now } }) : undefined;
  // Concurrent first questions of one user share one read.
  const reading = new Map<string, Promise<Tier>>();
  // Counts invalidations: a read sent before one may have seen the old row, so its result is returned but not kept.
  let generation = 0;

  function read(userId: string): Promise<Tier> {
    let pending = reading.get(userId);
    if (!pending) {
      // Stamped with the time the read was sent: an entry is never served more than cacheMs after the row was read.
      const readAt = now();
      const sentIn = generation;
      const settled = chatDb
        .query<Tier>(userTierSql, [userId])
        .then(([row]) => {
          if (!row) throw new AppError('not_found', 'No profile for this user');
          if (sentIn === generation) cache?.set(userId, { tier: row, readAt }, { ttl: Math.max(1, cacheMs - (now() - readAt)) });
          return row;
        })
        .finally(() => {
          if (reading.get(userId) === settled) reading.delete(userId);
        });
      pending = settled;
      reading.set(userId, pending);
    }
    return pending;
  }

  return {
    /**
     * The tier of a user: from the cache when read less than `cacheMs` ago.
     * An entry past half its time is read again in the background while it is
     * still served (refresh-ahead), so a user who keeps asking never waits for
     * the read on an answer's path, and a change is still seen within `cacheMs`.
     */
    forUser(userId: string): Promise<Tier> {
      const cached = cache?.get(userId);
      if (!cached) return read(userId);
      if (now() - cached.readAt > cacheMs / 2) void read(userId).catch(() => undefined);
      return Promise.resolve(cached.tier);
    },
    /** Every tier with its number of users. */
    list: () => chatDb.query<Tier & { users: number }>(listTiersSql),
    /**
     * Forgets the cached tier of `userId` (every user's when absent): the
     * next answer reads it again. A read already under way is not joined by
     * later callers, and its result is not kept.
     */
    invalidate(userId?: string): void {
      generation++;
      if (userId === undefined) {
        cache?.clear();
        reading.clear();
      } else {
        cache?.delete(userId);
        reading.delete(userId);
      }
    },
  };
}

export type Tiers = ReturnType<typeof createTiers>;

/** Values from the environment that set a tier's row at start (undefined = leave the table's value). */
export interface TierSeed {
  startingCredits?: number;
  chatPerMinute?: number;
  maxConcurrent?: number;
  maxOutputTokens?: number;
}

/**
 * Applies the environment's seeds to the tier table (STARTING_CREDITS_FREE/PRO,
 * CHAT_MAX_* for `free`), as the owner connection. Only variables that are set
 * are written; unset ones leave the table as the operator left it.
 */
export async function applyTierSeeds(chatDb: Db, seeds: Record<string, TierSeed>): Promise<void> {
  for (const [tier, seed] of Object.entries(seeds)) {
    const values = [seed.startingCredits, seed.chatPerMinute, seed.maxConcurrent, seed.maxOutputTokens];
    if (values.every((v) => v === undefined)) continue;
    await chatDb.query(seedTierSql, [tier, ...values.map((v) => v ?? null)]);
  }
}
