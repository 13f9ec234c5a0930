/**
 * The candles the live indicators of a candle are computed from, and an
 * in-process cache that computes them incrementally with identical results.
 *
 * Why an anchored window: with a window sliding one candle per cycle (the
 * last `lookback` candles), every EMA, Wilder average and the SAR restart
 * from a different seed each cycle, so nothing computed for the previous
 * candle can be reused: each cycle recomputed all 21 indicators over ~1,000
 * candles (~6 ms, most of the worker's CPU). Instead the window starts at an
 * ANCHOR that stays put for `anchorStep(lookback)` candles and then jumps
 * forward by that step: the window is the candles from the anchor to the
 * candle, between lookback − step + 1 and lookback candle slots long. Between
 * two jumps the indicators of candle n+1 are those of candle n advanced by
 * one candle, exactly (the same additions in the same order), so a cached
 * engine gives bit-for-bit the values a full computation over the window
 * gives (indicator-window.test.ts checks it at every step of real candles).
 * The anchor is a pure function of the watcher and the candle's time (a
 * phase per watcher spreads the jumps, and so the full recomputations, evenly
 * over cycles), so every process and every rerun finds the same window.
 *
 * Only the smoothed indicators need the whole window. The windowed ones
 * (compute-indicators.ts, LONGEST_WINDOWED_PERIOD) are fed its last 101–200
 * candle slots (`windowedFrom`): the same values, and a new watcher's
 * indicator build over ~950 candles takes 1.4 ms instead of 3.2 ms.
 */
import { TIMEFRAME_MS } from '../../common/symbols';
import { LRUCache } from 'lru-cache';
import { watchKeyId, type Candle, type IndicatorValues, type WatchKey } from '../domain';
import { computeIndicators, createIndicatorEngine, type IndicatorEngine } from './compute-indicators';

/** Candles between two jumps of a watcher's anchor: a tenth of the lookback (100 at the default 1,000). */
export function anchorStep(lookback: number): number {
  return Math.max(1, Math.floor(lookback / 10));
}

/** FNV-1a of the watcher: a stable phase, the same in every process. */
function phaseOf(key: WatchKey, step: number): number {
  let h = 0x811c9dc5;
  const s = watchKeyId(key);
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h % step;
}

/**
 * Open time of the first candle slot of the indicators' window for the candle
 * opening at `openTime`: the first slot at or after the lookback's start whose
 * index (open time / timeframe) is the watcher's phase modulo the step. The
 * window therefore never reaches further back than the lookback.
 */
export function indicatorAnchor(key: WatchKey, openTime: number, lookback: number): number {
  const tf = TIMEFRAME_MS[key.timeframe];
  const step = anchorStep(lookback);
  const earliest = Math.floor(openTime / tf) - lookback + 1;
  const offset = (((phaseOf(key, step) - earliest) % step) + step) % step;
  return (earliest + offset) * tf;
}

/**
 * Candle slots the windowed indicators are fed before the window's shortest
 * span ends: they see 101 to 100 + step slots. About three times the longest
 * of their periods, so that a gap of a few dozen missing candles still leaves
 * them enough.
 */
export const WINDOWED_FEED_SLOTS = 100;

/**
 * Open time of the first candle the windowed indicators are fed, for the
 * window starting at `anchor`. A function of the anchor, so an engine advanced
 * over one anchor's span was fed exactly as a rebuild from the window is.
 */
export function windowedFrom(key: WatchKey, anchor: number, lookback: number): number {
  return anchor + Math.max(0, lookback - anchorStep(lookback) - WINDOWED_FEED_SLOTS) * TIMEFRAME_MS[key.timeframe];
}

/** Index of the first candle at or after `time` in ascending candles (length when none). */
function firstAtOrAfter(candles: readonly Candle[], time: number): number {
  let lo = 0;
  let hi = candles.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (candles[mid]!.openTime < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Where the indicator window of the newest of `candles` (ascending) starts:
 * its anchor, the index of its first candle, and where the windowed
 * indicators start. Undefined for no candles.
 */
function anchoredWindow(key: WatchKey, candles: readonly Candle[], lookback: number) {
  const last = candles.at(-1);
  if (!last) return undefined;
  const anchor = indicatorAnchor(key, last.openTime, lookback);
  return { anchor, from: firstAtOrAfter(candles, anchor), windowedFrom: windowedFrom(key, anchor, lookback) };
}

/** The candles of `candles` (ascending, ending with the candle analysed) inside its indicator window. */
export function indicatorWindow(key: WatchKey, candles: readonly Candle[], lookback: number): readonly Candle[] {
  const window = anchoredWindow(key, candles, lookback);
  return window ? candles.slice(window.from) : [];
}

/**
 * The 21 values of the newest candle of `candles` (ascending, at least its
 * indicator window) as the live pipeline defines them: over the anchored
 * window, the windowed indicators from `windowedFrom`. The cache below gives
 * exactly these.
 */
export function windowIndicators(key: WatchKey, candles: readonly Candle[], lookback: number): IndicatorValues {
  const window = anchoredWindow(key, candles, lookback);
  return window ? computeIndicators(candles.slice(window.from), { windowedFrom: window.windowedFrom }) : computeIndicators([]);
}

interface Entry {
  anchor: number;
  windowedFrom: number;
  engine: IndicatorEngine;
  /** Candles fed since the anchor, and a hash of them in order. */
  count: number;
  checksum: Checksum;
}

// The bits of a double, as two 32-bit words, for hashing.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** A 64-bit hash (two 32-bit lanes) of a sequence of candles, folded left so it can be extended. */
interface Checksum {
  a: number;
  b: number;
}

/**
 * Order-sensitive hash of the bits of every field the indicators read: the
 * same candles in the same order give the same hash; any other sequence a
 * different one but with probability ~2^-64 (a plain float sum would lose a
 * small change in its rounding).
 */
function checksumOf(candles: readonly Candle[], from: number, to: number, seed: Checksum = { a: 0x9e3779b9, b: 0x85ebca6b }): Checksum {
  laneA = seed.a;
  laneB = seed.b;
  for (let i = from; i < to; i++) {
    const c = candles[i]!;
    hashDouble(c.openTime);
    hashDouble(c.open);
    hashDouble(c.high);
    hashDouble(c.low);
    hashDouble(c.close);
    hashDouble(c.volume);
  }
  return { a: laneA, b: laneB };
}

let laneA = 0;
let laneB = 0;
function hashDouble(x: number): void {
  f64[0] = x;
  for (let w = 0; w < 2; w++) {
    const word = u32[w]!;
    laneA = Math.imul(laneA ^ word, 0x01000193);
    laneA = (laneA << 13) | (laneA >>> 19);
    laneB = Math.imul(laneB ^ word, 0xcc9e2d51);
    laneB = Math.imul((laneB << 15) | (laneB >>> 17), 0x1b873593);
  }
}

export interface IndicatorCache {
  /**
   * The 21 values of the newest candle of `candles` (ascending, at least the
   * candle's indicator window), those of `windowIndicators`: advanced from this
   * process's engine when it was built from exactly the window's first
   * candles, else rebuilt from the window.
   */
  valuesAt(key: WatchKey, candles: readonly Candle[], lookback: number): IndicatorValues;
  /** Hits (advanced) and misses (rebuilt) so far, for the bench. */
  stats(): { hits: number; misses: number; size: number };
}

/**
 * Per-process memory of each watcher's indicator engine. A verified cache:
 * an engine is reused only when its anchor is the window's and the candles
 * it was fed are, by count and by an order-sensitive checksum of their
 * fields, the window's first candles (a candle stored by another worker
 * since, or a gap filled, fails the check); then only the candles after them
 * are fed. Anything else rebuilds from the window, which gives the same
 * values, so two workers sharing a queue (each with its own cache, each
 * missing the cycles the other ran) store identical rows; a miss costs only
 * the full computation. Bounded, least recently used first out (~40 KB an
 * engine: 2,000 watchers ≈ 80 MB).
 */
export function createIndicatorCache(maxEntries = 2_000): IndicatorCache {
  const map = new LRUCache<string, Entry>({ max: maxEntries });
  let hits = 0;
  let misses = 0;
  return {
    valuesAt(key, candles, lookback) {
      const window = anchoredWindow(key, candles, lookback);
      if (!window) return computeIndicators([]);
      const { anchor, from, windowedFrom: windowed } = window;
      const id = watchKeyId(key);
      let entry = map.get(id);
      const fed = entry && entry.anchor === anchor && entry.windowedFrom === windowed && entry.count <= candles.length - from ? entry.count : -1;
      const prefix = entry && fed >= 0 ? checksumOf(candles, from, from + fed) : null;
      if (entry && prefix && prefix.a === entry.checksum.a && prefix.b === entry.checksum.b) {
        hits++;
        for (let i = from + fed; i < candles.length; i++) entry.engine.push(candles[i]!);
        entry.checksum = checksumOf(candles, from + fed, candles.length, entry.checksum);
        entry.count = candles.length - from;
      } else {
        misses++;
        const engine = createIndicatorEngine({ windowedFrom: windowed });
        for (let i = from; i < candles.length; i++) engine.push(candles[i]!);
        entry = { anchor, windowedFrom: windowed, engine, count: candles.length - from, checksum: checksumOf(candles, from, candles.length) };
      }
      map.set(id, entry);
      return entry.engine.values();
    },
    stats: () => ({ hits, misses, size: map.size }),
  };
}
