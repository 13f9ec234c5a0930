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
  /**
   * A pair asked about within this long is reloaded by the cache itself when
   * its entry goes (a new candle's signal) or passes half of maxAgeMs, so the
   * next question about it finds it loaded. Default 10 min.
   */
  refreshWindowMs?: number;
  now?: () => number;
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
 *
 * A pair someone asked about lately is reloaded in the background as soon as
 * its entry goes or ages past half of maxAgeMs, for all such pairs of one
 * tick in one load: otherwise the first question after each candle (every
 * minute on 1m pairs) or after a quiet spell waited for the load before its
 * provider request went out.
 */
export function createMarketContextCache(options: MarketContextCacheOptions) {
  const { tradingDb, log } = options;
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const refreshWindowMs = options.refreshWindowMs ?? 600_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, Cached>();
  /** When each pair was last asked about. */
  const asked = new Map<string, { pair: Pair; at: number }>();
  /** Pairs to reload at the next tick (see refreshSoon). */
  let queued: Map<string, Pair> | undefined;
  const loading = new Map<string, Promise<Cached>>();
  // Bumped by every invalidation; a load records the generation it started in.
  let generation = 0;
  let everything = 0;
  const pairGeneration = new Map<string, number>();
  const symbolGeneration = new Map<string, number>();
  let listener: PgListener | undefined;
  let closed = false;

  function invalidate(pair?: Pair) {
    generation++;
    if (!pair) {
      cache.clear();
      loading.clear();
      everything = generation;
      for (const { pair: p } of asked.values()) refreshSoon(p);
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
    for (const [k, { pair: p }] of asked) if (matches(k)) refreshSoon(p);
  }

  /** Reloads `pair` at the next tick if it was asked about lately, batched with the others queued meanwhile. */
  function refreshSoon(pair: Pair) {
    if (!queued) {
      queued = new Map();
      setImmediate(() => {
        const pairs = [...queued!.values()];
        queued = undefined;
        if (closed) return;
        const t = now();
        const due = pairs.filter((p) => {
          const last = asked.get(key(p));
          if (!last || t - last.at > refreshWindowMs) {
            asked.delete(key(p));
            return false;
          }
          return !loading.has(key(p));
        });
        if (due.length > 0) {
          startLoad(due).catch((err: Error) => log.debug({ err: err.message }, 'market context: background reload failed; the next question loads it'));
        }
      });
    }
    queued.set(key(pair), pair);
  }

  /** Whether `p` was invalidated after `since`: a load started then may predate the new rows. */
  const invalidatedSince = (p: Pair, since: number) =>
    everything > since || (pairGeneration.get(key(p)) ?? 0) > since || (symbolGeneration.get(p.symbol) ?? 0) > since;

  async function load(pairs: Pair[]): Promise<Map<string, Cached>> {
    const started = generation;
    const [snapshots, extras] = await Promise.all([loadMarketSnapshots(tradingDb, pairs), loadMarketExtras(tradingDb, pairs)]);
    const loadedAt = now();
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

  /** Loads `pairs` (none of them loading) in one batch that later questions about them join. */
  function startLoad(pairs: Pair[]): Promise<Map<string, Cached>> {
    const batch = load(pairs);
    for (const p of pairs) {
      const k = key(p);
      const one = batch.then((m) => m.get(k)!);
      loading.set(k, one);
      void one.then(
        () => loading.get(k) === one && loading.delete(k),
        () => loading.get(k) === one && loading.delete(k),
      );
    }
    return batch;
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
      const t = now();
      const found = new Map<string, Cached>();
      const missing: Pair[] = [];
      const waits: Array<Promise<Cached>> = [];
      for (const p of pairs) {
        const k = key(p);
        asked.set(k, { pair: p, at: t });
        const hit = cache.get(k);
        if (hit && t - hit.loadedAt < maxAgeMs) {
          found.set(k, hit);
          // Refresh-ahead: reloaded while still served, so a pair asked about steadily never waits for its load.
          if (t - hit.loadedAt > maxAgeMs / 2 && !loading.has(k)) refreshSoon(p);
        } else if (loading.has(k)) waits.push(loading.get(k)!.then((c) => (found.set(k, c), c)));
        else missing.push(p);
      }
      options.onCacheLookup?.('market_context', missing.length === 0 && waits.length === 0);
      if (missing.length > 0) for (const [k, c] of await startLoad(missing)) found.set(k, c);
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
      closed = true;
      await listener?.close();
      listener = undefined;
    },
  };
}

export type MarketContextCache = ReturnType<typeof createMarketContextCache>;
