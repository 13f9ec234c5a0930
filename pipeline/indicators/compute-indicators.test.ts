import { describe, expect, it } from 'vitest';
import { INDICATOR_NAMES, type Candle } from '../domain';
import { createSimulatedMarket } from '../market/simulated';
import { computeIndicators, computeIndicatorSeries } from './compute-indicators';
import { createPsar } from './psar';

const H = 3_600_000;
/** Candles from closes; each opens at the previous close, wicks 0.5 beyond the body. */
function fromCloses(closes: number[], volume: (i: number) => number = () => 10): Candle[] {
  return closes.map((close, i) => {
    const open = i === 0 ? close : closes[i - 1]!;
    return { openTime: i * H, open, high: Math.max(open, close) + 0.5, low: Math.min(open, close) - 0.5, close, volume: volume(i) };
  });
}
const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

async function realistic(n: number, seed = 11): Promise<Candle[]> {
  const m = createSimulatedMarket({ seed, now: () => Date.UTC(2025, 0, 15) });
  return m.fetchCandles('BTC/USDT', '1h', { limit: n });
}

describe('computeIndicators', () => {
  it('returns exactly the 21 named values', async () => {
    const values = computeIndicators(await realistic(300));
    expect(Object.keys(values).sort()).toEqual([...INDICATOR_NAMES].sort());
    expect(INDICATOR_NAMES).toHaveLength(21);
    for (const name of INDICATOR_NAMES) expect(Number.isFinite(values[name]), name).toBe(true);
  });

  it('matches hand-computed moving averages and bands', () => {
    // 40 closes at 100, then one at 121.
    const v = computeIndicators(fromCloses([...range(40, () => 100), 121]));
    expect(v.sma20).toBeCloseTo(100 + 21 / 20, 10); // 101.05
    expect(v.ema20).toBeCloseTo(100 + 21 * (2 / 21), 10); // 102: one step of k = 2/(20+1)
    expect(v.ema50).toBeNull(); // 41 candles < 50
    // Bollinger(20, 2): 19 × 100 and 1 × 121 → mean 101.05, population sd √(19·1.05² + 19.95²)/√20.
    const sd = Math.sqrt((19 * 1.05 ** 2 + 19.95 ** 2) / 20);
    const [lower, upper] = [101.05 - 2 * sd, 101.05 + 2 * sd];
    expect(v.bb_percent_b).toBeCloseTo((121 - lower) / (upper - lower), 10);
    expect(v.bb_width).toBeCloseTo((upper - lower) / 101.05, 10);
    expect(v.roc12).toBeCloseTo(21, 10); // (121 − 100) / 100 in percent
  });

  it.each([
    ['rising', (i: number) => 100 + i, 100],
    ['falling', (i: number) => 200 - i, 0],
  ])('RSI of a strictly %s series is %d; OBV slope and SAR follow the move', (_name, f, rsi) => {
    const v = computeIndicators(fromCloses(range(60, f)));
    expect(v.rsi14).toBeCloseTo(rsi, 8);
    expect(v.obv_slope).toBe(rsi === 100 ? 1 : -1); // every candle's volume counted up (or down)
    if (rsi === 100) expect(v.psar!).toBeLessThan(159); // SAR trails below a rising market
    else expect(v.psar!).toBeGreaterThan(141);
  });

  it('keeps bounded oscillators within their ranges on realistic data', async () => {
    for (const v of computeIndicatorSeries(await realistic(400, 3)).slice(200)) {
      expect(v.rsi14!).toBeGreaterThanOrEqual(0);
      expect(v.rsi14!).toBeLessThanOrEqual(100);
      expect(v.stoch_k!).toBeGreaterThanOrEqual(0);
      expect(v.stoch_k!).toBeLessThanOrEqual(100);
      expect(v.stoch_rsi!).toBeGreaterThanOrEqual(0);
      expect(v.stoch_rsi!).toBeLessThanOrEqual(1);
      expect(v.mfi14!).toBeGreaterThanOrEqual(0);
      expect(v.mfi14!).toBeLessThanOrEqual(100);
      expect(v.williams_r!).toBeGreaterThanOrEqual(-100);
      expect(v.williams_r!).toBeLessThanOrEqual(0);
      expect(v.adx14!).toBeGreaterThanOrEqual(0);
      expect(v.adx14!).toBeLessThanOrEqual(100);
      expect(Math.abs(v.obv_slope!)).toBeLessThanOrEqual(1);
      expect(v.atr14!).toBeGreaterThan(0);
      expect(v.bb_width!).toBeGreaterThan(0);
    }
  });

  // The candle count at which each value first appears (periods of the definitions).
  const warmUp: Array<[string, number]> = [
    ['psar', 2],
    ['roc12', 13],
    ['atr14', 14],
    ['williams_r', 14],
    ['rsi14', 15],
    ['mfi14', 15],
    ['obv_slope', 16],
    ['stoch_k', 18],
    ['sma20', 20],
    ['ema20', 20],
    ['bb_percent_b', 20],
    ['cci20', 20],
    ['macd', 26],
    ['adx14', 27],
    ['stoch_rsi', 28],
    ['macd_signal', 34],
    ['macd_hist', 34],
    ['ao', 34],
    ['ema50', 50],
    ['ema200', 200],
  ];
  it.each(warmUp)('%s is null with fewer candles than its warm-up (%d) and set from then on', async (name, n) => {
    const candles = await realistic(n);
    const key = name as (typeof INDICATOR_NAMES)[number];
    expect(computeIndicators(candles.slice(0, n - 1))[key]).toBeNull();
    expect(computeIndicators(candles)[key]).not.toBeNull();
  });

  it('returns all nulls for an empty series', () => {
    expect(Object.values(computeIndicators([])).every((v) => v === null)).toBe(true);
  });

  it('has no look-ahead: the series value at i equals the value computed from candles 0..i', async () => {
    const candles = await realistic(260, 5);
    const series = computeIndicatorSeries(candles);
    for (const i of [30, 120, 199, 230, 259]) expect(series[i]).toEqual(computeIndicators(candles.slice(0, i + 1)));
  });
});

describe('createPsar (Wilder)', () => {
  const feed = (bars: Array<[number, number]>) => {
    const psar = createPsar(0.02, 0.2);
    return bars.map(([high, low]) => psar.add({ high, low }));
  };

  it.each([
    // Rising: first SAR at the previous low (9); next 9 + 0.02·(11 − 9) = 9.04 would sit above the
    // low two candles back (9), so it is clamped there although no candle broke through.
    ['clamps the SAR under the previous two lows on every candle', [[10, 9], [11, 10], [12, 11.5]], [null, 9, 9]],
    ['mirrors it above the previous two highs when falling', [[11, 10], [10, 9], [9, 7.5]], [null, 11, 11]],
    // Rising then a candle whose low crosses the SAR: reverse to the extreme high (12) with AF reset.
    ['reverses to the extreme point when a candle crosses the SAR', [[10, 9], [11, 10], [12, 11.5], [11, 8]], [null, 9, 9, 12]],
  ] as Array<[string, Array<[number, number]>, Array<number | null>]>)('%s', (_name, bars, expected) => {
    expect(feed(bars)).toEqual(expected);
  });
});
