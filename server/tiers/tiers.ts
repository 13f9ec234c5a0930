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
   * (TIER_CACHE_MS; 0 = every answer reads it). A tier change reaches every
   * instance within this. The concurrent-answers cap is not cached at all: the
   * ledger's reserve statement reads it.
   */
  cacheMs?: number;
}

/**
 * The per-user limits, read from the tier table in the chat database — the
 * same for every instance, and changed without a restart (`npm run admin --
 * tier EMAIL pro`, or an UPDATE of public.tier_grants).
 */
export function createTiers({ chatDb, cacheMs = 5000 }: TiersDeps) {
  const cache = cacheMs > 0 ? new LRUCache<string, Tier>({ max: 50_000, ttl: cacheMs }) : undefined;
  // Concurrent first questions of one user share one read.
  const reading = new Map<string, Promise<Tier>>();

  async function read(userId: string): Promise<Tier> {
    const [row] = await chatDb.query<Tier>(userTierSql, [userId]);
    if (!row) throw new AppError('not_found', 'No profile for this user');
    cache?.set(userId, row);
    return row;
  }

  return {
    /** The tier of a user (from the cache when read less than `cacheMs` ago). */
    forUser(userId: string): Promise<Tier> {
      const cached = cache?.get(userId);
      if (cached) return Promise.resolve(cached);
      let pending = reading.get(userId);
      if (!pending) {
        pending = read(userId).finally(() => reading.delete(userId));
        reading.set(userId, pending);
      }
      return pending;
    },
    /** Every tier with its number of users. */
    list: () => chatDb.query<Tier & { users: number }>(listTiersSql),
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
