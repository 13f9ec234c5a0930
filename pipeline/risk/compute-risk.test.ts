import { describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors';
import { TIMEFRAME_MS } from '../../common/symbols';
import { sharedDataSlices } from '../backtest/fixtures/real-candles';
import type { Candle } from '../domain';
import { computeIndicatorSeries, INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { createIndicatorCache } from '../indicators/indicator-window';
import { computeRisk, regimeOf } from './compute-risk';

const H = TIMEFRAME_MS['1h'];
function series(closes: number[], opts: { spacing?: number; range?: number; volume?: (i: number) => number } = {}): Candle[] {
  const spacing = opts.spacing ?? H;
  return closes.map((close, i) => {
    const open = i === 0 ? close : closes[i - 1]!;
    const half = (opts.range ?? 0) / 2;
    return { openTime: i * spacing, open, high: Math.max(open, close) + half, low: Math.min(open, close) - half, close, volume: opts.volume?.(i) ?? 10 };
  });
}
/** Log returns alternating +r, −r: sample sd over an even count n of them is r·√(n/(n−1)). */
const zigzag = (n: number, r: number) => Array.from({ length: n }, (_, i) => 100 * Math.exp(i % 2 === 0 ? 0 : r));

describe('computeRisk', () => {
  it('annualises realised vol by the timeframe (√ candles per year)', () => {
    const r = 0.01;
    const candles = series(zigzag(31, r)); // 30 returns: ±1 %
    const sample = r * Math.sqrt(30 / 29);
    expect(computeRisk(candles, '1h').realizedVol).toBeCloseTo(sample * Math.sqrt(8760), 10);
    expect(computeRisk(candles, '1d').realizedVol).toBeCloseTo(sample * Math.sqrt(365), 10);
    expect(computeRisk(candles, '5m').realizedVol).toBeCloseTo(sample * Math.sqrt(105_120), 8);
  });

  it('infers the timeframe from candle spacing when none is given, tolerating a gap', () => {
    const candles = series(zigzag(31, 0.01), { spacing: TIMEFRAME_MS['4h'] });
    const withGap = [...candles.slice(0, 10), ...candles.slice(11)];
    expect(computeRisk(candles).realizedVol).toBeCloseTo(computeRisk(candles, '4h').realizedVol, 12);
    expect(computeRisk(withGap).realizedVol).toBeCloseTo(computeRisk(withGap, '4h').realizedVol, 12);
  });

  it('uses only the last 30 returns', () => {
    const calm = zigzag(200, 0.001);
    const wild = [...zigzag(170, 0.05), ...calm.slice(0, 31).map((x) => x * Math.exp(0.05))];
    expect(computeRisk(series(wild), '1h').realizedVol).toBeCloseTo(computeRisk(series(calm.slice(0, 31)), '1h').realizedVol, 10);
  });

  it('computes ATR %, drawdown from the rolling high and the volume z-score', () => {
    // Flat at 100 with a constant 2-point range → ATR 2 → 2 % of 100.
    const flat = series(Array.from({ length: 40 }, () => 100), { range: 2, volume: (i) => (i === 39 ? 40 : i % 2 === 0 ? 10 : 20) });
    const risk = computeRisk(flat, '1h');
    expect(risk.atrPct).toBeCloseTo(2, 10);
    expect(risk.drawdownPct).toBeCloseTo((1 - 100 / 101) * 100, 10); // rolling high is 101
    expect(risk.realizedVol).toBe(0);
    expect(risk.regime).toBe('low');
    // The 20 previous volumes alternate 10/20: mean 15, sample sd √(20·25/19).
    expect(risk.volumeZ).toBeCloseTo((40 - 15) / Math.sqrt((20 * 25) / 19), 10);
  });

  it('measures drawdown within the last 100 candles only', () => {
    const closes = [200, ...Array.from({ length: 100 }, () => 100), 90];
    const risk = computeRisk(series(closes), '1h');
    expect(risk.drawdownPct).toBeCloseTo(10, 10); // from 100, not from the old 200 high
  });

  it('is defined for very short series and rejects an empty one', () => {
    const one = computeRisk(series([100], { range: 1 }), '1h');
    expect(one).toEqual({ realizedVol: 0, atrPct: 1, drawdownPct: (1 - 100 / 100.5) * 100, volumeZ: 0, regime: 'low' });
    expect(() => computeRisk([], '1h')).toThrow(AppError);
  });

  it.each([
    [0, 'low'],
    [0.349, 'low'],
    [0.35, 'normal'],
    [0.79, 'normal'],
    [0.8, 'high'],
    [1.49, 'high'],
    [1.5, 'extreme'],
    [4, 'extreme'],
  ] as const)('regime of %d annualised vol is %s', (vol, regime) => {
    expect(regimeOf(vol)).toBe(regime);
  });

  it('labels a turbulent series by its realised vol', () => {
    expect(computeRisk(series(zigzag(31, 0.03)), '1h').regime).toBe('extreme'); // ≈ 2.9 annualised
    expect(computeRisk(series(zigzag(31, 0.005)), '1h').regime).toBe('normal'); // ≈ 0.48
  });
});

describe('computeRisk with the ATR the caller has', () => {
  it('takes the given ATR(14) instead of running its own over the candles', () => {
    const candles = series([100, 101, 102, 103], { range: 2 });
    expect(computeRisk(candles, '1h', 5.15).atrPct).toBeCloseTo(5, 12);
    // Without one (or with null: an indicator still warming up), it computes its own, as before.
    expect(computeRisk(candles, '1h', null)).toEqual(computeRisk(candles, '1h'));
  });

  it("gives the same risk from the indicators' atr14 as from its own ATR, live and walked forward, at every candle of real data", () => {
    const lookback = 1000;
    for (const { name, timeframe, candles } of sharedDataSlices()) {
      const key = { symbol: `${name.slice(0, 3)}/USDT`, timeframe };
      const live = createIndicatorCache();
      const walked = computeIndicatorSeries(candles);
      for (let i = INDICATOR_WARMUP_CANDLES - 1; i < candles.length; i++) {
        const window = candles.slice(Math.max(0, i + 1 - lookback), i + 1);
        const own = computeRisk(window, timeframe);
        for (const atr14 of [live.valuesAt(key, window, lookback).atr14, walked[i]!.atr14]) {
          const given = computeRisk(window, timeframe, atr14);
          // The seeds differ (the window's first candle, the indicator window's anchor, the history's
          // start), but after 586 or more candles of Wilder smoothing the runs agree to the last bit.
          expect(given, `${name} candle ${i}`).toEqual(own);
        }
      }
    }
  });
});
