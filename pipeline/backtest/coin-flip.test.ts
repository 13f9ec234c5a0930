import { describe, expect, it } from 'vitest';
import type { Candle } from '../domain';
import { coinFlipBaseline, DEFAULT_DRAWS, edgeOf, percentileOf, quantile, replayTrade, seededRandom } from './coin-flip';
import { simulateTrades, type TradeSignal } from './simulate';

/** A deterministic zig-zag market with a drift, and a call every few candles. */
function market(n: number): Candle[] {
  const random = seededRandom(7);
  let price = 100;
  return Array.from({ length: n }, (_, i) => {
    const open = price;
    price *= 1 + (random() - 0.48) * 0.04;
    const close = price;
    return { openTime: i * 3_600_000, open, high: Math.max(open, close) * 1.01, low: Math.min(open, close) * 0.99, close, volume: 1 };
  });
}
function calls(candles: Candle[], pick: (i: number) => 'long' | 'short' | 'flat'): TradeSignal[] {
  return candles.map((c, i) => {
    const direction = pick(i);
    if (direction === 'flat') return { direction, score: 0, stop: null, takeProfit: null };
    const s = direction === 'long' ? 1 : -1;
    return { direction, score: 50, stop: c.close * (1 - s * 0.03), takeProfit: c.close * (1 + s * 0.05) };
  });
}

describe('coinFlipBaseline', () => {
  const candles = market(600);
  const { trades } = simulateTrades(candles, calls(candles, (i) => (i % 7 === 0 ? (i % 14 === 0 ? 'long' : 'short') : 'flat')), { feePct: 0.1, horizonCandles: 5 });

  it('is deterministic for a seed and draws at least 200 times by default', () => {
    const a = coinFlipBaseline(candles, trades, { feePct: 0.1, seed: 42 });
    expect(a).toEqual(coinFlipBaseline(candles, trades, { feePct: 0.1, seed: 42 }));
    expect(a.draws).toBe(DEFAULT_DRAWS);
    expect(DEFAULT_DRAWS).toBeGreaterThanOrEqual(200);
    expect(coinFlipBaseline(candles, trades, { feePct: 0.1, seed: 43 }).medianExpectancyPct).not.toBe(a.medianExpectancyPct);
    expect(a.p5!).toBeLessThan(a.medianExpectancyPct!);
    expect(a.medianExpectancyPct!).toBeLessThan(a.p95!);
  });

  it('ranks a strategy that knows the next candle at the top and its mirror at the bottom', () => {
    const oracle = calls(candles, (i) => (i % 7 === 0 && i + 2 < candles.length ? (candles[i + 1]!.close > candles[i + 1]!.open ? 'long' : 'short') : 'flat'));
    const cheat = simulateTrades(candles, oracle, { feePct: 0.1, horizonCandles: 1 }).trades;
    expect(coinFlipBaseline(candles, cheat, { feePct: 0.1 }).percentile).toBeGreaterThan(99);
    const wrong = oracle.map((d) => (d.direction === 'flat' ? d : { ...d, direction: d.direction === 'long' ? ('short' as const) : ('long' as const), stop: d.takeProfit, takeProfit: d.stop }));
    const loser = simulateTrades(candles, wrong, { feePct: 0.1, horizonCandles: 1 }).trades;
    expect(coinFlipBaseline(candles, loser, { feePct: 0.1 }).percentile).toBeLessThan(1);
  });

  it('weighs the coin by the strategy’s share of longs, so a drift alone does not pass for skill', () => {
    const allLong = simulateTrades(candles, calls(candles, (i) => (i % 7 === 0 ? 'long' : 'flat')), { feePct: 0.1, horizonCandles: 5 }).trades;
    const matched = coinFlipBaseline(candles, allLong, { feePct: 0.1 });
    // Every draw goes long like the strategy: no better or worse than chance.
    expect(matched).toMatchObject({ longShare: 1, percentile: 50 });
    expect(matched.p5).toBeCloseTo(matched.p95!, 10);
    const fair = coinFlipBaseline(candles, allLong, { feePct: 0.1, longShare: 0.5 });
    expect(fair.longShare).toBe(0.5);
    expect(fair.p5!).toBeLessThan(fair.p95!);
  });

  it('replays a trade in its own direction exactly as the simulator closed it', () => {
    for (const t of trades) expect(replayTrade(candles, t, t.direction, 0.1)).toBeCloseTo(t.returnPct, 10);
  });

  it('mirrors the stop and take-profit around the signal close for the other direction', () => {
    const c = (open: number, high: number, low: number, close: number, i: number): Candle => ({ openTime: i, open, high, low, close, volume: 1 });
    const series = [c(100, 101, 99, 100, 0), c(100, 101, 92, 93, 1), c(93, 94, 92, 93, 2)];
    const t = simulateTrades(series, [{ direction: 'long', score: 50, stop: 90, takeProfit: 106 }, { direction: 'flat', score: 0, stop: null, takeProfit: null }, { direction: 'flat', score: 0, stop: null, takeProfit: null }], { feePct: 0, horizonCandles: 10 }).trades[0]!;
    // Short mirror: stop 110, take-profit 94 → reached at 94 in candle 1.
    expect(replayTrade(series, t, 'short', 0)).toBeCloseTo(6, 10);
  });

  it('has no baseline without trades', () => {
    expect(coinFlipBaseline(candles, [], { feePct: 0.1 })).toMatchObject({ percentile: null, medianExpectancyPct: null });
  });
});

describe('statistics helpers', () => {
  it('interpolates quantiles and counts ties as half', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.05)).toBeCloseTo(1.2, 10);
    expect(percentileOf(3, [1, 2, 3, 4])).toBe(62.5);
  });

  it('seededRandom repeats its stream for a seed and stays in [0, 1)', () => {
    const a = seededRandom(1);
    const b = seededRandom(1);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });
});

describe('edgeOf', () => {
  it.each([
    [{ trades: 100, expectancyPct: 0.5, percentile: 97 }, 'positive'],
    [{ trades: 100, expectancyPct: -0.1, percentile: 97 }, 'none'], // beats chance, still loses money
    [{ trades: 100, expectancyPct: 0.5, percentile: 80 }, 'none'],
    [{ trades: 100, expectancyPct: -0.5, percentile: 3 }, 'negative'],
    [{ trades: 29, expectancyPct: 2, percentile: 100 }, 'none'], // too few trades to say
    [{ trades: 0, expectancyPct: null, percentile: null }, 'none'],
  ])('%j → %s', (input, edge) => {
    expect(edgeOf(input)).toBe(edge);
  });
});
