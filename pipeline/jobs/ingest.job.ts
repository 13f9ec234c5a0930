import { LRUCache } from 'lru-cache';
import type { Queryable } from '../../common/db';
import type { Logger } from '../../common/logger';
import { TIMEFRAME_MS } from '../../common/symbols';
import { watchKeyId, type Candle, type LiqCluster, type WatchKey } from '../domain';
import { fetchHistory } from '../backtest/history';
import { windowIndicators, type IndicatorCache } from '../indicators/indicator-window';
import { estimateLiquidationClusters } from '../liquidations/estimate-clusters';
import type { MarketSource } from '../market/market-source';
import { sanitizeCandles } from '../market/validate-candles';
import { computeRisk } from '../risk/compute-risk';
import { directStores, type PipelineStores } from '../storage/stores';
import type { SignalJob } from './queues';

export interface IngestDeps {
  sql: Queryable;
  market: MarketSource;
  log: Logger;
  now: () => number;
  /** Candles the indicators are computed over. */
  lookback: number;
  /**
   * Candles of history loaded on a watcher's first ingest, where the source
   * has them (paged: Binance serves 1,000 a request), so its track record
   * starts from the first minute. Default: the lookback.
   */
  historyCandles?: number;
  /** At most this many missed candles are analysed after an outage, the newest ones (default 1: only the newest). */
  catchUp?: number;
  /**
   * After an outage, up to this many missed candles are fetched (paged) and
   * stored, so the series has no hole where the track record would read two
   * distant candles as neighbours. Default: the lookback.
   */
  maxGap?: number;
  /** Optional per-process memory of each watcher's newest stored candle (see createLatestCache). */
  latest?: LatestCache;
  /** Optional per-process copy of each watcher's last window, checked against the database before use (see createWindowCache). */
  windows?: WindowCache;
  /** Optional per-process indicator engines, advanced by the new candles instead of recomputed (see createIndicatorCache). */
  indicators?: IndicatorCache;
  /** The database calls (default: one statement each, on `sql`; the worker coalesces them across jobs, see batchedStores). */
  stores?: PipelineStores;
}

/**
 * Remembers the newest stored candle per watcher, saving a query per ingest.
 * Safe across processes because the stored newest only ever moves forward: a
 * stale entry (another worker ingested since) is older than the truth, which
 * only makes us fetch a little more than needed, and the overlap is ignored
 * on insert.
 */
export function createLatestCache(maxEntries = 100_000) {
  const map = new LRUCache<string, number>({ max: maxEntries });
  return {
    get: (key: WatchKey) => map.peek(watchKeyId(key)),
    set: (key: WatchKey, openTime: number) => void map.set(watchKeyId(key), openTime),
  };
}
export type LatestCache = ReturnType<typeof createLatestCache>;

/**
 * Each watcher's window (its last `lookback` candles) as its last ingest in
 * this process analysed it, so the next ingest need not read ~1,000 candles
 * back. `version` is set when the window was the series' newest stored
 * candles at that version of the series (the database's counter,
 * sql/trading/0007): the next ingest sends only that number to check the copy
 * against (candleStore.storeAndReadBack's `cached`). When another worker's
 * ingests appended candles since, the statement returns just those
 * (`appendedSince`); the window is read back only when anything else changed
 * (a gap filled). A wrong copy is therefore never used, and a missing one
 * costs only the read. Bounded (least
 * recently used first out): ~70 KB a watcher at a 1,000-candle lookback.
 */
export function createWindowCache(maxEntries = 2_000) {
  const map = new LRUCache<string, { candles: Candle[]; version: number | undefined }>({ max: maxEntries });
  return {
    get: (key: WatchKey) => map.peek(watchKeyId(key)),
    set: (key: WatchKey, candles: Candle[], version?: number) => void map.set(watchKeyId(key), { candles, version }),
  };
}
export type WindowCache = ReturnType<typeof createWindowCache>;

/** Open time of the newest candle that has closed by `now`. */
export function lastClosedOpenTime(timeframe: WatchKey['timeframe'], now: number): number {
  const tf = TIMEFRAME_MS[timeframe];
  return Math.floor(now / tf) * tf - tf;
}

/** How many candles to ask the source for: the gap since the newest stored one, at most `maxGap` (at least the lookback). */
export function candlesToFetch(
  latestStored: number | null,
  lastClosed: number,
  timeframe: WatchKey['timeframe'],
  lookback: number,
  maxGap = lookback,
): number {
  if (latestStored === null) return lookback;
  const gap = Math.floor((lastClosed - latestStored) / TIMEFRAME_MS[timeframe]);
  return Math.max(0, Math.min(Math.max(lookback, maxGap), gap));
}

export interface IngestResult {
  /** Added to the job's log line. */
  log: Record<string, unknown>;
  /** The compute_signals job to send, if the candle still needs its signal. */
  followUp: SignalJob | null;
  /**
   * A new watcher's history exactly as this ingest stored it: set when its
   * series was empty and every fetched candle went in, so that the series'
   * candles are these. The walk-forward (ensureHistory) then need not read
   * ~2,000 candles back.
   */
  history?: readonly Candle[];
}

/**
 * Index of the first candle to analyse in `candles` (ascending, ending with
 * the newest closed one): every candle after the last analysed one, at most
 * `catchUp` of them; a watcher never analysed gets only its newest candle
 * (its history is context, not missed work). `candles.length` when none.
 */
export function firstToAnalyse(candles: readonly Candle[], lastAnalysed: number | null, catchUp: number): number {
  if (!candles.length) return 0;
  if (lastAnalysed === null) return candles.length - 1;
  const firstNew = candles.findIndex((c) => c.openTime > lastAnalysed);
  if (firstNew === -1) return candles.length;
  return Math.max(firstNew, candles.length - catchUp);
}

/**
 * ingest_indicators: fetch what is new, store it, analyse every closed
 * candle not analysed yet (after an outage, each missed one in order, each
 * from the candles up to it only), and name the compute_signals job that
 * should follow. Idempotent: candles are inserted once and each analysis is
 * one upsert keyed by candle time. The follow-up is sent by the worker for
 * the whole batch after the analyses are stored; if that send is lost
 * (crash), the next ingest of the watcher finds the candle analysed but
 * unsignalled and names it again.
 */
export async function runIngest(deps: IngestDeps, key: WatchKey): Promise<IngestResult> {
  const { market, log, lookback } = deps;
  const stores = deps.stores ?? directStores(deps.sql);
  const catchUp = deps.catchUp ?? 1;
  const now = deps.now();
  const latest = deps.latest?.get(key) ?? (await stores.latestOpenTime(key));
  const want = candlesToFetch(latest, lastClosedOpenTime(key.timeframe, now), key.timeframe, lookback, deps.maxGap);

  // A new watcher loads its history; one behind by more than the lookback fills the whole gap (both paged).
  const history = latest === null ? Math.max(lookback, deps.historyCandles ?? lookback) : Math.max(lookback, want);
  let fresh: Candle[] = [];
  if (want > 0) {
    const raw =
      history > lookback
        ? await fetchHistory(market, { symbol: key.symbol, timeframe: key.timeframe, candles: history })
        : await market.fetchCandles(key.symbol, key.timeframe, { limit: want });
    // Sources validate already; this is the storage boundary, so check again rather than trust.
    fresh = sanitizeCandles(raw, { source: market.name, symbol: key.symbol, timeframe: key.timeframe, now, log }).slice(-history);
  }
  const newest = Math.max(latest ?? -Infinity, fresh.at(-1)?.openTime ?? -Infinity);
  if (!Number.isFinite(newest)) return { log: { fetched: 0, inserted: 0, outcome: 'no_candles' }, followUp: null };

  // With nothing new, ask only whether the candle is done; the window is read if it is not.
  const beforeLimit = fresh.length ? Math.max(0, lookback - fresh.length) : 0;
  // The candles before the new ones, when this process holds them from the watcher's last ingest.
  const held = beforeLimit > 0 ? deps.windows?.get(key) : undefined;
  const usable = held?.version !== undefined && held.candles.length >= beforeLimit && held.candles.at(-1)!.openTime < fresh[0]!.openTime;
  const cached = usable ? { version: held.version!, newest: held.candles.at(-1)!.openTime } : undefined;
  const stored = await stores.storeAndReadBack({ key, source: market.name, candles: fresh, newest, beforeLimit, cached });
  deps.latest?.set(key, newest);
  let before = stored.before;
  // Stale only by candles appended since (another worker's ingests of this watcher): the copy and those of them before ours.
  // (Null unless the copy was sent and found stale: the store says so only then.)
  const appended = stored.appendedSince;
  if (usable) {
    if (stored.cachedValid) before = held.candles.slice(-beforeLimit);
    else if (appended) before = [...held.candles, ...appended.filter((c) => c.openTime < fresh[0]!.openTime)].slice(-beforeLimit);
    else before = await stores.window(key, fresh[0]!.openTime - 1, beforeLimit);
  }
  const line = { fetched: fresh.length, inserted: stored.inserted, candleTime: newest };
  const loadedHistory = latest === null && stored.storedBefore === null && fresh.length > 0 && stored.inserted === fresh.length ? fresh : undefined;
  if (stored.lastAnalysed === newest) {
    if (stored.signalled) return { log: { ...line, outcome: 'unchanged' }, followUp: null };
    return { log: { ...line, outcome: 'signal_requeued' }, followUp: { ...key, candleTime: newest } };
  }

  // The usual case (one new candle to analyse) has its window already; a catch-up or a rerun
  // reads enough for a full lookback behind each candle it analyses.
  let candles = fresh.length ? [...before, ...fresh].slice(-lookback) : [];
  const reread = !fresh.length || candles.length - firstToAnalyse(candles, stored.lastAnalysed, catchUp) > 1;
  if (reread) candles = await stores.window(key, newest, stored.lastAnalysed === null ? lookback : lookback + catchUp - 1);
  if (candles.at(-1)?.openTime !== newest) throw new Error(`candle ${newest} of ${key.symbol} ${key.timeframe} missing from its window`);
  // The version vouches for the copy only if the window is the series' newest candles: a read up to
  // `newest` when nothing newer was stored, or the stored ones before the given candles followed by
  // them when none was stored at or after the first (else a hole in the fetch could hide one), or
  // when those stored at or after it are all candles appended since the copy, each one of ours as
  // we have it (another worker stored them first: this process fetched from an older newest).
  // A candle stored meanwhile by another worker makes the version older than the series': checked false.
  const suffix =
    stored.storedBefore === null ||
    stored.storedBefore < (reread ? newest + 1 : fresh[0]!.openTime) ||
    (!reread && appended !== null && appended.every((c) => c.openTime < fresh[0]!.openTime || sameCandle(c, fresh, fresh[0]!.openTime, key.timeframe)));
  deps.windows?.set(key, candles.slice(-lookback), suffix ? stored.seriesVersion : undefined);

  const first = firstToAnalyse(candles, stored.lastAnalysed, catchUp);
  let window: Candle[] = [];
  let risk: ReturnType<typeof computeRisk> | undefined;
  for (let i = first; i < candles.length; i++) {
    // No look-ahead: each candle is analysed from the lookback candles up to it, as if ingested on time.
    window = candles.slice(Math.max(0, i + 1 - lookback), i + 1);
    // Over the candle's anchored indicator window (indicator-window.ts): the cache's values are the full computation's.
    const indicators = deps.indicators ? deps.indicators.valuesAt(key, window, lookback) : windowIndicators(key, window, lookback);
    risk = computeRisk(window, key.timeframe, indicators.atr14);
    // A provider's liquidation map is today's: right for the newest candle only.
    const clusters = i === candles.length - 1 ? await clustersFor(deps, key, window) : estimateLiquidationClusters(window);
    await stores.saveAnalysis(key, window.at(-1)!.openTime, { indicators, risk, clusters });
  }
  return {
    log: { ...line, candles: window.length, analysed: candles.length - first, regime: risk?.regime, outcome: 'analysed' },
    followUp: { ...key, candleTime: newest },
    history: loadedHistory,
  };
}

/** Whether `candles` (consecutive, from `firstOpen`) hold `c`, field for field. */
function sameCandle(c: Candle, candles: readonly Candle[], firstOpen: number, timeframe: WatchKey['timeframe']): boolean {
  const mine = candles[(c.openTime - firstOpen) / TIMEFRAME_MS[timeframe]];
  return (
    mine !== undefined &&
    mine.openTime === c.openTime &&
    mine.open === c.open &&
    mine.high === c.high &&
    mine.low === c.low &&
    mine.close === c.close &&
    mine.volume === c.volume
  );
}

/** Provider clusters when the source has them (KingFisher), else estimated from candles; a provider failure degrades to the estimate. */
async function clustersFor(deps: IngestDeps, key: WatchKey, window: Candle[]): Promise<LiqCluster[]> {
  const lastPrice = window.at(-1)!.close;
  if (deps.market.fetchLiquidationClusters) {
    try {
      const provided = await deps.market.fetchLiquidationClusters(key.symbol, lastPrice);
      if (provided.length) return provided;
    } catch (err) {
      deps.log.warn({ symbol: key.symbol, err: err instanceof Error ? err.message : String(err) }, 'liquidation map unavailable, estimating');
    }
  }
  return estimateLiquidationClusters(window);
}
