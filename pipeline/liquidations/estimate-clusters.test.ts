import { describe, expect, it } from 'vitest';
import type { Candle } from '../domain';
import { createSimulatedMarket } from '../market/simulated';
import { realCandles } from '../backtest/fixtures/real-candles';
import { createClusterEstimator, estimateLiquidationClusters } from './estimate-clusters';

const H = 3_600_000;
const c = (i: number, low: number, high: number, close: number, volume = 10): Candle => ({ openTime: i * H, open: close, high, low, close, volume });
const only10x = [{ leverage: 10, weight: 1 }];

describe('estimateLiquidationClusters', () => {
  it('puts 10× liquidations at entry·(1 − 1/L + mmr) below and entry·(1 + 1/L − mmr) above', () => {
    const candles = [c(0, 99, 101, 100)]; // typical price 100
    const clusters = estimateLiquidationClusters(candles, { tiers: only10x, mmr: 0.005, bandPct: 0.5 });
    expect(clusters).toHaveLength(2);
    const [long, short] = clusters;
    expect(long).toMatchObject({ side: 'long', strength: 1, source: 'estimated' });
    expect(short).toMatchObject({ side: 'short', strength: 1, source: 'estimated' });
    expect(long!.priceLow).toBeLessThanOrEqual(90.5);
    expect(long!.priceHigh).toBeGreaterThan(90.5);
    expect(long!.priceHigh - long!.priceLow).toBeCloseTo(0.5, 10); // band = 0.5 % of the last close
    expect(short!.priceLow).toBeLessThanOrEqual(109.5);
    expect(short!.priceHigh).toBeGreaterThan(109.5);
  });

  it('drops levels that later price already crossed (filled)', () => {
    const candles = [
      c(0, 100, 100, 100, 10), // entries at 100: long liq 90.5, short liq 109.5
      c(1, 85, 100, 95, 1), // the crash reaches 85: the longs from candle 0 are gone
      c(2, 94, 96, 95, 1),
    ];
    const clusters = estimateLiquidationClusters(candles, { tiers: only10x, mmr: 0.005, bandPct: 0.5 });
    const near = (side: string, level: number) => clusters.some((k) => k.side === side && k.priceLow <= level && k.priceHigh >= level);
    expect(near('long', 90.5)).toBe(false);
    expect(near('short', 109.5)).toBe(true);
    // Candles 1 and 2 entered lower; their long levels (≈ 86.9, 86.0) were never crossed.
    expect(clusters.filter((k) => k.side === 'long').length).toBeGreaterThan(0);
    expect(clusters.every((k) => (k.side === 'long' ? k.priceHigh <= 95 : k.priceLow >= 95))).toBe(true);
  });

  it('weighs entries by volume and normalises strength to the heaviest band', () => {
    const candles = [c(0, 100, 100, 100, 30), c(1, 120, 120, 120, 10), c(2, 110, 110, 110, 1)];
    // Keep the two entries' levels apart and unfilled: 10× only, mmr 0.
    const clusters = estimateLiquidationClusters(candles, { tiers: only10x, mmr: 0, bandPct: 0.1, minStrength: 0 });
    const at = (side: string, level: number) => clusters.find((k) => k.side === side && k.priceLow <= level && k.priceHigh > level)?.strength;
    expect(at('short', 110 * 1.1)).toBeCloseTo(1 / 30, 10); // the last candle's short level (121)
    expect(at('long', 90)).toBe(1); // candle 0: 30 of volume
    expect(at('long', 108)).toBeCloseTo(10 / 30, 10); // candle 1
    expect(at('short', 132)).toBeCloseTo(10 / 30, 10);
    expect(at('short', 110)).toBeUndefined(); // candle 0's short level 110 was crossed by candle 1
  });

  it('honours lookback, tier weights, maxClusters and minStrength on realistic data', async () => {
    const m = createSimulatedMarket({ seed: 2, now: () => Date.UTC(2025, 2, 1) });
    const candles = await m.fetchCandles('ETH/USDT', '1h', { limit: 300 });
    const last = candles.at(-1)!.close;
    const clusters = estimateLiquidationClusters(candles, { maxClusters: 8, minStrength: 0.2 });
    expect(clusters.length).toBeGreaterThan(0);
    expect(clusters.length).toBeLessThanOrEqual(8);
    expect(Math.max(...clusters.map((k) => k.strength))).toBe(1);
    for (const k of clusters) {
      expect(k.strength).toBeGreaterThanOrEqual(0.2);
      expect(k.priceLow).toBeLessThanOrEqual(k.priceHigh);
      if (k.side === 'long') expect(k.priceHigh).toBeLessThanOrEqual(last);
      else expect(k.priceLow).toBeGreaterThanOrEqual(last);
    }
    expect(clusters.map((k) => k.priceLow)).toEqual([...clusters.map((k) => k.priceLow)].sort((a, b) => a - b));
    // A 1-candle lookback sees only the newest entries: at most one band per tier and side.
    expect(estimateLiquidationClusters(candles, { lookback: 1, minStrength: 0 }).length).toBeLessThanOrEqual(8);
  });

  it('still estimates from equal weights when the feed has no volume, and returns [] for no candles', () => {
    const candles = [c(0, 99, 101, 100, 0), c(1, 99, 101, 100, 0)];
    expect(estimateLiquidationClusters(candles, { tiers: only10x }).length).toBeGreaterThan(0);
    expect(estimateLiquidationClusters([])).toEqual([]);
  });

  it('keeps its bands when one entry sits hundreds of times above the price (too many bands apart for a table of them)', () => {
    const normal = Array.from({ length: 99 }, (_, i) => c(i + 1, 99 + (i % 5) * 0.3, 101 + (i % 7) * 0.3, 100 + (i % 3) * 0.2));
    const far = c(0, 49_900, 50_100, 50_000, 0.001);
    // A featherweight far entry adds no band strong enough to keep, and changes none of the others.
    expect(estimateLiquidationClusters([far, ...normal])).toEqual(estimateLiquidationClusters(normal));
    // A heavy one makes the strongest band, its short liquidations ~50,000 × 1.095 above the price.
    const heavy = estimateLiquidationClusters([{ ...far, volume: 1e6 }, ...normal]);
    const strongest = heavy.find((b) => b.strength === 1)!;
    expect(strongest.side).toBe('short');
    expect(strongest.priceLow).toBeGreaterThan(50_000);
  });

  it('gives, reusing its arrays call after call, what a fresh estimate gives, whatever the window sizes and options in between', () => {
    const candles = realCandles();
    const estimator = createClusterEstimator();
    const far = c(0, 49_900, 50_100, 50_000, 1e6);
    const cases: Array<[Candle[], Parameters<typeof estimateLiquidationClusters>[1]]> = [];
    for (let i = 1; i <= candles.length; i += 7) {
      // Windows that grow, then one small and one wide in between: every array is reused smaller and larger.
      cases.push([candles.slice(Math.max(0, i - 100), i), undefined]);
      cases.push([candles.slice(Math.max(0, i - 3), i), { lookback: 2, tiers: only10x, minStrength: 0 }]);
      cases.push([candles.slice(Math.max(0, i - 300), i), { lookback: 300, bandPct: 0.1, maxClusters: 40 }]);
    }
    // Zero volume (equal weights), and a price far enough away that the bands need a Map.
    cases.push([candles.slice(0, 50).map((k) => ({ ...k, volume: 0 })), undefined]);
    cases.push([[far, ...candles.slice(0, 99)], undefined]);
    cases.push([candles.slice(0, 100), undefined]);
    for (const [window, options] of cases) expect(estimator(window, options)).toEqual(estimateLiquidationClusters(window, options));
    expect(cases.length).toBeGreaterThan(300);
  });
});
