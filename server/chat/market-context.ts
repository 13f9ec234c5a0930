import { createHash } from 'node:crypto';
import type { Db } from '../../common/db';
import type { Logger } from '../../common/logger';
import { createPgListener, type PgListener } from '../../common/pg-listener';
import type { MarketEntry } from '../context';
import { loadMarketExtras, loadMarketSnapshots } from '../market/market.queries';
import { SIGNAL_CHANNEL } from '../signals/signal-push';

export interface Pair {
  symbol: string;
  timeframe: string;
}

export interface MarketContext {
  /** Per pair asked for (in that order) that has data. */
  entries: MarketEntry[];
  /** sha256 of the entries' content: equal on every instance that read the same rows. */
  fingerprint: string;
}

export interface MarketContextCacheOptions {
  tradingDb: Db;
  log: Logger;
  /**
   * Longest an entry is trusted without a notification. A new candle is
   * notified (its signal's insert), but the hourly track-record refresh is
   * not: this bounds how stale that part can be.
   */
  maxAgeMs?: number;
  /** Listen for new signals (off in unit tests that invalidate by hand). Default true. */
  listen?: boolean;
  onCacheLookup?: (cache: string, hit: boolean) => void;
}

interface Cached {
  entry: MarketEntry | null;
  json: string;
  loadedAt: number;
}

const key = (p: Pair) => `${p.symbol}\u0000${p.timeframe}`;

/**
 * The market part of a chat answer's context, per pair, computed once per
 * candle instead of once per question: the latest signal, risk, track record,
 * 24 h change and nearest liquidation clusters change only when the pipeline
 * stores a new candle's analysis, which ends with the signal's insert and its
 * NOTIFY (sql/trading/0003). Each instance LISTENs on that channel and drops
 * the pair's entry; a missed notification (the LISTEN connection dropped)
 * drops everything. Per instance on purpose: it is derived data every
 * instance invalidates from the same NOTIFY, and nothing depends on two
 * instances agreeing about it beyond the fingerprint of what they read.
 *
 * Concurrent questions about a pair that is not cached share one load; a load
 * that started before an invalidation is used for its own questions but not
 * kept (it may predate the new rows).
 */
export function createMarketContextCache(options: MarketContextCacheOptions) {
  const { tradingDb, log } = options;
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const cache = new Map<string, Cached>();
  const loading = new Map<string, Promise<Cached>>();
  // Bumped by every invalidation; a load records the generation it started in.
  let generation = 0;
  let everything = 0;
  const pairGeneration = new Map<string, number>();
  const symbolGeneration = new Map<string, number>();
  let listener: PgListener | undefined;

  function invalidate(pair?: Pair) {
    generation++;
    if (!pair) {
      cache.clear();
      loading.clear();
      everything = generation;
      return;
    }
    // A signal names its timeframe; without one, every timeframe of the symbol.
    const matches = (k: string) => (pair.timeframe ? k === key(pair) : k.startsWith(`${pair.symbol}\u0000`));
    for (const k of new Set([...cache.keys(), ...loading.keys()])) {
      if (!matches(k)) continue;
      cache.delete(k);
      loading.delete(k);
    }
    if (pair.timeframe) pairGeneration.set(key(pair), generation);
    else symbolGeneration.set(pair.symbol, generation);
  }

  /** Whether `p` was invalidated after `since`: a load started then may predate the new rows. */
  const invalidatedSince = (p: Pair, since: number) =>
    everything > since || (pairGeneration.get(key(p)) ?? 0) > since || (symbolGeneration.get(p.symbol) ?? 0) > since;

  async function load(pairs: Pair[]): Promise<Map<string, Cached>> {
    const started = generation;
    const [snapshots, extras] = await Promise.all([loadMarketSnapshots(tradingDb, pairs), loadMarketExtras(tradingDb, pairs)]);
    const loadedAt = Date.now();
    const out = new Map<string, Cached>();
    for (const p of pairs) {
      const s = snapshots.find((x) => x.symbol === p.symbol && x.timeframe === p.timeframe);
      const more = extras.find((e) => e.symbol === p.symbol && e.timeframe === p.timeframe);
      const entry: MarketEntry | null = s ? { ...s, change24hPct: more?.change24hPct ?? null, clusters: more?.clusters ?? [] } : null;
      const cached = { entry, json: JSON.stringify(entry), loadedAt };
      out.set(key(p), cached);
      // Not kept if the pair was invalidated while this load ran: it may predate the new rows.
      if (!invalidatedSince(p, started)) cache.set(key(p), cached);
    }
    return out;
  }

  return {
    /** Starts listening for new signals; resolves once LISTEN is in place. */
    async start(): Promise<void> {
      if (options.listen === false || listener) return;
      listener = createPgListener({
        connection: tradingDb.pool.options,
        channel: SIGNAL_CHANNEL,
        name: 'zmarty-market-context',
        log,
        onNotification: (payload) => {
          try {
            const parsed = JSON.parse(payload) as { symbol?: unknown; row?: { timeframe?: unknown } };
            if (typeof parsed.symbol !== 'string') return;
            invalidate({ symbol: parsed.symbol, timeframe: typeof parsed.row?.timeframe === 'string' ? parsed.row.timeframe : '' });
          } catch {
            // Not ours to judge; the signal push logs nothing either.
          }
        },
        // Whatever was committed while nobody listened is unknown: start over.
        onConnected: async () => invalidate(),
        pingIntervalMs: 15_000,
      });
      await listener.ready;
    },

    /**
     * The market entries for `pairs` (cached ones from memory, the others
     * loaded in one round trip per query) and their fingerprint. Throws when
     * the trading database cannot be read.
     */
    async contextFor(pairs: Pair[]): Promise<MarketContext> {
      const now = Date.now();
      const found = new Map<string, Cached>();
      const missing: Pair[] = [];
      const waits: Array<Promise<Cached>> = [];
      for (const p of pairs) {
        const k = key(p);
        const hit = cache.get(k);
        if (hit && now - hit.loadedAt < maxAgeMs) found.set(k, hit);
        else if (loading.has(k)) waits.push(loading.get(k)!.then((c) => (found.set(k, c), c)));
        else missing.push(p);
      }
      options.onCacheLookup?.('market_context', missing.length === 0 && waits.length === 0);
      if (missing.length > 0) {
        const batch = load(missing);
        for (const p of missing) {
          const k = key(p);
          const one = batch.then((m) => m.get(k)!);
          loading.set(k, one);
          void one.then(
            () => loading.get(k) === one && loading.delete(k),
            () => loading.get(k) === one && loading.delete(k),
          );
        }
        for (const [k, c] of await batch) found.set(k, c);
      }
      await Promise.all(waits);
      const hash = createHash('sha256');
      const entries: MarketEntry[] = [];
      for (const p of pairs) {
        const c = found.get(key(p))!;
        hash.update(key(p)).update('\u0001').update(c.json).update('\u0002');
        if (c.entry) entries.push(c.entry);
      }
      return { entries, fingerprint: hash.digest('hex') };
    },

    /** Drops one pair (every timeframe when `timeframe` is empty), or everything. */
    invalidate,

    async close(): Promise<void> {
      await listener?.close();
      listener = undefined;
    },
  };
}

export type MarketContextCache = ReturnType<typeof createMarketContextCache>;
