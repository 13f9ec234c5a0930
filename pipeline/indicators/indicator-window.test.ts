import { describe, expect, it } from 'vitest';
import { TIMEFRAME_MS } from '../../common/symbols';
import { realCandles, sharedDataSlices } from '../backtest/fixtures/real-candles';
import { INDICATOR_NAMES, type Candle, type WatchKey } from '../domain';
import { computeIndicators, computeIndicatorSeries, LONGEST_WINDOWED_PERIOD } from './compute-indicators';
import { anchorStep, createIndicatorCache, indicatorAnchor, indicatorWindow, WINDOWED_FEED_SLOTS, windowedFrom, windowIndicators } from './indicator-window';

const BTC: WatchKey = { symbol: 'BTC/USDT', timeframe: '1h' };
const H = TIMEFRAME_MS['1h'];

/** The ingest's window for candle n: the lookback candles up to it. */
const lookbackWindow = (candles: readonly Candle[], n: number, lookback: number) => candles.slice(Math.max(0, n + 1 - lookback), n + 1);

/** A seeded shuffle of which process runs each cycle. */
function* coinFlips(seed: number): Generator<number> {
  let s = seed;
  for (;;) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    yield s >>> 31;
  }
}

describe('the anchored indicator window', () => {
  it('starts at a per-watcher anchor that holds for a step of candles, then jumps by it, never beyond the lookback', () => {
    const lookback = 1000;
    const step = anchorStep(lookback);
    expect(step).toBe(100);
    const t0 = Date.UTC(2024, 0, 1);
    const anchors = Array.from({ length: 3 * step }, (_, i) => indicatorAnchor(BTC, t0 + i * H, lookback));
    for (let i = 0; i < anchors.length; i++) {
      const slots = (t0 + i * H - anchors[i]!) / H + 1;
      expect(slots).toBeGreaterThanOrEqual(lookback - step + 1);
      expect(slots).toBeLessThanOrEqual(lookback);
      if (i > 0) expect([0, step * H]).toContain(anchors[i]! - anchors[i - 1]!);
    }
    expect(new Set(anchors).size).toBeGreaterThanOrEqual(3);
    // Watchers jump at different candles, so full recomputations spread over the cycles.
    const phases = new Set(['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT', 'DOGE/USDT'].map((symbol) => indicatorAnchor({ symbol, timeframe: '1h' }, t0, lookback)));
    expect(phases.size).toBeGreaterThan(1);
  });

  it('keeps every indicator within 0.05 % of its full-history value at its shortest (901 of 1,000 candles)', () => {
    const candles = realCandles();
    const full = computeIndicatorSeries(candles);
    for (const end of [1100, candles.length]) {
      const shortest = computeIndicators(candles.slice(end - 901, end));
      for (const name of INDICATOR_NAMES) {
        const scale = Math.max(1, Math.abs(full[end - 1]![name]!));
        expect(Math.abs(shortest[name]! - full[end - 1]![name]!) / scale, name).toBeLessThan(5e-4);
      }
    }
  });
});

describe('the windowed indicators, fed the window\'s last candles only', () => {
  const WINDOWED = ['sma20', 'bb_percent_b', 'bb_width', 'stoch_k', 'cci20', 'mfi14', 'obv_slope', 'williams_r', 'roc12', 'ao'] as const;

  it.each([
    { name: 'BTCUSDT 1h, lookback 1,000', key: BTC, candles: realCandles(), lookback: 1000 },
    { name: 'ETHUSDT 1h, lookback 300', key: { symbol: 'ETH/USDT', timeframe: '1h' } as WatchKey, candles: sharedDataSlices()[1]!.candles.slice(0, 1500), lookback: 300 },
  ])('$name: give the values of a feed of the whole window, at every candle', ({ key, candles, lookback }) => {
    const tf = TIMEFRAME_MS[key.timeframe];
    for (let n = lookback - 1; n < candles.length; n++) {
      const window = lookbackWindow(candles, n, lookback);
      const anchor = indicatorAnchor(key, candles[n]!.openTime, lookback);
      const fed = (candles[n]!.openTime - windowedFrom(key, anchor, lookback)) / tf + 1;
      expect(fed).toBeGreaterThanOrEqual(WINDOWED_FEED_SLOTS + 1);
      expect(fed).toBeLessThanOrEqual(WINDOWED_FEED_SLOTS + anchorStep(lookback));
      const live = windowIndicators(key, window, lookback);
      const whole = computeIndicators(indicatorWindow(key, window, lookback));
      // OBV is a running total: started later, it rounds differently, by a few units of the last place.
      const { obv_slope: liveObv, ...liveRest } = live;
      const { obv_slope: wholeObv, ...wholeRest } = whole;
      expect(liveRest, `candle ${n}`).toStrictEqual(wholeRest);
      expect(Math.abs(liveObv! - wholeObv!), `candle ${n}`).toBeLessThan(1e-12);
    }
  });

  it('gives the candles before windowedFrom to the smoothed indicators only, and the windowed ones need no more than LONGEST_WINDOWED_PERIOD', () => {
    const candles = realCandles().slice(0, 400);
    const last = (fed: number) => computeIndicators(candles, { windowedFrom: candles[candles.length - fed]!.openTime });
    // Fed fewer candles than any of their periods, the windowed ones are still warming up; the smoothed ones are not.
    const short = last(10);
    for (const name of INDICATOR_NAMES) expect(short[name], name).toBe((WINDOWED as readonly string[]).includes(name) ? null : computeIndicators(candles)[name]);
    // Fed the longest of their periods, every one has its value.
    const enough = last(LONGEST_WINDOWED_PERIOD);
    for (const name of WINDOWED) expect(enough[name], name).not.toBeNull();
    expect(last(LONGEST_WINDOWED_PERIOD - 1).ao).toBeNull();
  });
});

describe('incremental indicators (createIndicatorCache)', () => {
  const cases = [
    { name: 'BTCUSDT 1h, lookback 1,000', key: BTC, candles: realCandles(), lookback: 1000 },
    { name: 'ETHUSDT 1h, lookback 300', key: { symbol: 'ETH/USDT', timeframe: '1h' } as WatchKey, candles: sharedDataSlices()[1]!.candles.slice(0, 1500), lookback: 300 },
  ];

  it.each(cases)('$name: advancing one candle at a time gives exactly the full computation over the window, at every step', ({ key, candles, lookback }) => {
    const cache = createIndicatorCache();
    let steps = 0;
    for (let n = lookback - 1; n < candles.length; n++) {
      const window = lookbackWindow(candles, n, lookback);
      expect(cache.valuesAt(key, window, lookback), `candle ${n}`).toStrictEqual(windowIndicators(key, window, lookback));
      steps++;
    }
    // Rebuilt only on the first call and at each jump of the anchor: advanced otherwise.
    const { hits, misses } = cache.stats();
    expect(hits + misses).toBe(steps);
    expect(misses).toBeLessThanOrEqual(1 + Math.ceil(steps / anchorStep(lookback)));
    expect(hits).toBeGreaterThan(0.9 * steps);
  });

  it('two workers taking turns at random, each with its own cache and skipping the cycles the other ran, store the same values', () => {
    const { key, candles, lookback } = cases[1]!;
    const workers = [createIndicatorCache(), createIndicatorCache()];
    const flips = coinFlips(42);
    for (let n = lookback - 1; n < candles.length; n++) {
      const window = lookbackWindow(candles, n, lookback);
      const worker = workers[flips.next().value!]!;
      expect(worker.valuesAt(key, window, lookback), `candle ${n}`).toStrictEqual(windowIndicators(key, window, lookback));
    }
    // Each caught up over the candles it had not seen instead of rebuilding.
    for (const w of workers) expect(w.stats().hits).toBeGreaterThan(w.stats().misses * 5);
  });

  it('rebuilds rather than reuse an engine fed other candles: a gap filled since, or a different price or volume', () => {
    const { key, candles, lookback } = cases[1]!;
    // A candle whose anchor is its predecessor's, so only the candles fed can tell the two apart.
    let n = 700;
    while (indicatorAnchor(key, candles[n]!.openTime, lookback) !== indicatorAnchor(key, candles[n - 1]!.openTime, lookback)) n++;
    const window = lookbackWindow(candles, n, lookback);
    const expected = windowIndicators(key, window, lookback);
    const anchored = indicatorWindow(key, window, lookback).length;
    const start = window.length - anchored;

    // A process that saw the window with a candle missing (stored later by another worker).
    const gap = createIndicatorCache();
    gap.valuesAt(key, [...window.slice(0, start + 10), ...window.slice(start + 11, -1)], lookback);
    expect(gap.valuesAt(key, window, lookback)).toStrictEqual(expected);
    expect(gap.stats()).toMatchObject({ hits: 0, misses: 2 });

    // A process that saw one candle with a different close, high, low or volume.
    for (const field of ['close', 'high', 'low', 'volume'] as const) {
      const changed = createIndicatorCache();
      const altered = window.slice(0, -1).map((c, i) => (i === start + 20 ? { ...c, [field]: c[field] * 1.001 } : c));
      changed.valuesAt(key, altered, lookback);
      expect(changed.valuesAt(key, window, lookback), field).toStrictEqual(expected);
      expect(changed.stats(), field).toMatchObject({ hits: 0, misses: 2 });
    }

    // The same candles: advanced, not rebuilt.
    const same = createIndicatorCache();
    same.valuesAt(key, window.slice(0, -1), lookback);
    expect(same.valuesAt(key, window, lookback)).toStrictEqual(expected);
    expect(same.stats()).toMatchObject({ hits: 1, misses: 1 });
  });

  it('holds at most maxEntries engines, least recently used out', () => {
    const cache = createIndicatorCache(2);
    const window = realCandles().slice(0, 300);
    for (const symbol of ['A/USDT', 'B/USDT', 'C/USDT', 'A/USDT']) cache.valuesAt({ symbol, timeframe: '1h' }, window, 300);
    expect(cache.stats()).toMatchObject({ size: 2, hits: 0, misses: 4 });
  });
});
