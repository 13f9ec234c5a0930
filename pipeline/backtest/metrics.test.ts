import { describe, expect, it } from 'vitest';
import type { Candle } from '../domain';
import { buyAndHold, drawdownSeries, maxDrawdownPct, monotoneWithinInterval, reliabilityTable, tradeStats, wilsonInterval } from './metrics';
import type { Trade } from './simulate';

describe('wilsonInterval', () => {
  // Reference values: R `binom::binom.confint(x, n, methods = "wilson")`.
  it.each([
    [5, 10, 0.2365931, 0.7634069],
    [0, 10, 0, 0.2775328],
    [10, 10, 0.7224672, 1],
    [60, 100, 0.5020026, 0.6905987],
    [1, 1, 0.2065493, 1],
  ])('%d wins of %d → [%f, %f]', (wins, n, low, high) => {
    const ci = wilsonInterval(wins, n)!;
    expect(ci.low).toBeCloseTo(low, 6);
    expect(ci.high).toBeCloseTo(high, 6);
  });

  it('is null without trades', () => {
    expect(wilsonInterval(0, 0)).toBeNull();
  });
});

const trade = (returnPct: number, extra: Partial<Trade> = {}): Pick<Trade, 'direction' | 'returnPct' | 'exitReason' | 'score'> => ({
  direction: 'long',
  exitReason: returnPct > 0 ? 'take_profit' : 'stop',
  score: 50,
  returnPct,
  ...extra,
});

describe('tradeStats', () => {
  it('computes win rate, its interval, profit factor and expectancy after fees', () => {
    const s = tradeStats([trade(4), trade(-1), trade(-1, { direction: 'short' }), trade(2, { exitReason: 'horizon' })]);
    expect(s).toMatchObject({ trades: 4, wins: 2, longs: 3, shorts: 1, winRate: 50, profitFactor: 3, expectancyPct: 1, avgWinPct: 3, avgLossPct: -1 });
    expect(s.winRateLow).toBeCloseTo(15.0, 1);
    expect(s.winRateHigh).toBeCloseTo(85.0, 1);
    expect(s.exitReasons).toEqual({ stop: 2, take_profit: 1, signal: 0, horizon: 1, end: 0 });
  });

  it('counts a zero return as a loss and leaves undefined ratios null', () => {
    expect(tradeStats([trade(0)])).toMatchObject({ wins: 0, winRate: 0, profitFactor: null });
    expect(tradeStats([trade(1)])).toMatchObject({ profitFactor: null, expectancyPct: 1 });
    expect(tradeStats([])).toMatchObject({ trades: 0, winRate: null, winRateLow: null, expectancyPct: null });
  });
});

describe('drawdown', () => {
  it.each([
    [[1, 1.2, 0.9, 1.3, 1.04], 25],
    [[1, 2, 3], 0],
    [[1, 0.5, 2, 1], 50],
  ])('max drawdown of %j is %d %%', (equity, dd) => {
    expect(maxDrawdownPct(equity)).toBeCloseTo(dd, 10);
    expect(Math.max(...drawdownSeries(equity))).toBeCloseTo(dd, 10);
  });
});

describe('buyAndHold', () => {
  it('buys at the open after `from` and sells at the last close, fees on both sides', () => {
    const candles: Candle[] = [100, 110, 120, 90, 132].map((close, i) => ({ openTime: i, open: close - 10, high: close + 1, low: close - 11, close, volume: 1 }));
    const bh = buyAndHold(candles, 1, 0);
    // Entry at the open of candle 2 (110), out at 132: +20 %; worst fall 120 → 90 from the 110 basis.
    expect(bh.returnPct).toBeCloseTo(20, 10);
    expect(bh.equity.slice(0, 2)).toEqual([1, 1]);
    expect(bh.maxDrawdownPct).toBeCloseTo(25, 10);
    expect(buyAndHold(candles, 1, 0.1).returnPct).toBeCloseTo(((132 * 0.999 - 110 * 1.001) / 110) * 100, 10);
  });
});

describe('reliabilityTable', () => {
  it('groups trades by the score they were shown with: trades, win rate with its Wilson interval, expectancy', () => {
    const rows = reliabilityTable([trade(1, { score: 45 }), trade(-1, { score: 45 }), trade(3, { score: 59 }), trade(2, { score: 58.6 })]);
    const w = wilsonInterval(1, 2)!;
    expect(rows).toEqual([
      { score: 45, trades: 2, winRate: 50, winRateLow: 100 * w.low, winRateHigh: 100 * w.high, expectancyPct: 0 },
      { score: 59, trades: 2, winRate: 100, winRateLow: 100 * wilsonInterval(2, 2)!.low, winRateHigh: 100, expectancyPct: 2.5 },
    ]);
  });

  it('calls a table monotone within its interval unless a higher score did significantly worse', () => {
    const row = (score: number, trades: number, wins: number) => reliabilityTable(Array.from({ length: trades }, (_, k) => trade(k < wins ? 1 : -1, { score })))[0]!;
    // 40 % then 35 % of 40 trades: lower, but well inside the interval.
    expect(monotoneWithinInterval([row(45, 40, 16), row(59, 40, 14)])).toBe(true);
    // 60 % of 200 then 30 % of 200: the higher score did worse beyond any doubt.
    expect(monotoneWithinInterval([row(45, 200, 120), row(59, 200, 60)])).toBe(false);
  });
});
