import { LRUCache } from 'lru-cache';

/**
 * When an answer's provider request may go out while its reservation is
 * still being made (CHAT_EARLY_PROVIDER_START): only when a refusal is
 * unlikely, judged from what this instance has seen. A request that turns
 * out refused is aborted before its first token, unpaid and unseen; what it
 * cost upstream is the price of the overlap, counted in
 * zmarty_chat_early_provider_starts_total{outcome="cancelled"}.
 */
export function createEarlyStartPolicy(options: { enabled: boolean; answerCacheTtlMs?: number }) {
  // Each user's balance as this instance last saw it (after a reservation or a settlement here); a refusal forgets it.
  const balances = new LRUCache<string, number>({ max: 50_000 });
  // Answer-cache keys this instance stored or found lately.
  const cacheKeys = new LRUCache<string, true>({ max: 20_000, ttl: Math.max(1, options.answerCacheTtlMs ?? 1) });
  // Each user's answers in progress here (starting or streaming).
  const inProgress = new Map<string, number>();

  return {
    /**
     * Yes when this instance saw the user's balance cover `amount` (so never
     * their first answer here, nor the next after a refusal), has no other
     * answer of theirs in progress (a burst of questions meets the cap on
     * answers in progress and the per-minute limit), and has not seen the
     * question in the answer cache (a hit needs no provider).
     */
    expectsGrant(userId: string, amount: number, cacheKey: string | undefined): boolean {
      if (!options.enabled || (inProgress.get(userId) ?? 0) > 1 || (cacheKey !== undefined && cacheKeys.has(cacheKey))) return false;
      const balance = balances.get(userId);
      return balance !== undefined && balance >= amount;
    },
    /** An answer of the user starts on this instance; the returned function is called once it is over. */
    starts(userId: string): () => void {
      inProgress.set(userId, (inProgress.get(userId) ?? 0) + 1);
      return () => {
        const left = (inProgress.get(userId) ?? 1) - 1;
        if (left > 0) inProgress.set(userId, left);
        else inProgress.delete(userId);
      };
    },
    sawBalance(userId: string, balance: number): void {
      balances.set(userId, balance);
    },
    /** Refused, rate limited or failed: nothing is expected of the user's next answer. */
    sawRefusal(userId: string): void {
      balances.delete(userId);
    },
    sawCacheEntry(key: string): void {
      cacheKeys.set(key, true);
    },
  };
}
