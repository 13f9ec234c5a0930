import { beforeAll, describe, expect, it } from 'vitest';
import type { Timeframe } from '../../common/symbols';
import { sharedDataSlices } from '../backtest/fixtures/real-candles';
import { monotoneWithinInterval, reliabilityTable, type ReliabilityRow } from '../backtest/metrics';
import { simulateTrades, type Trade } from '../backtest/simulate';
import { decideSeries } from '../backtest/signal-series';
import { INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { calibratedScore, calibrationGroup, fitCalibration, MIN_BLOCK_TRADES, outOfSampleReliability, scoreOf, splitAtMiddle, type CalibrationSample } from './score-calibration';
import { SCORE_CALIBRATION } from './score-calibration.table';

/** `trades` calls at `vote`, the first `wins` of them winners. */
const calls = (vote: number, trades: number, wins: number): CalibrationSample[] => Array.from({ length: trades }, (_, k) => ({ vote, returnPct: k < wins ? 1 : -1 }));

describe('fitCalibration', () => {
  it('pools adjacent violators: a higher vote never maps to a lower win rate', () => {
    // 40 won 60 %, 50 won 40 %: pooled to 50 % of 200; 60 won 80 %, clearly better, keeps its step.
    const fit = fitCalibration([...calls(40, 100, 60), ...calls(50, 100, 40), ...calls(60, 100, 80)]);
    expect(fit).toEqual([
      { vote: 40, trades: 200, wins: 100, winPct: 50 },
      { vote: 60, trades: 100, wins: 80, winPct: 80 },
    ]);
  });

  it('pools steps of fewer than 30 trades and steps the data cannot tell apart at 5 %', () => {
    // 45 % vs 50 % of 100 each is noise; 10 of 10 winners at 70 is too few to stand alone.
    const fit = fitCalibration([...calls(40, 100, 45), ...calls(55, 100, 50), ...calls(70, 10, 10)]);
    expect(fit).toEqual([{ vote: 40, trades: 210, wins: 105, winPct: 50 }]);
    expect(fitCalibration([])).toEqual([]);
  });

  it('scores a vote with the win rate of its step; votes below the first step take the first', () => {
    const fit = fitCalibration([...calls(40, 200, 80), ...calls(60, 100, 70)]);
    expect([calibratedScore(fit, 30), calibratedScore(fit, 40), calibratedScore(fit, 59), calibratedScore(fit, 60), calibratedScore(fit, 100)]).toEqual([40, 40, 40, 70, 70]);
  });

  it('commits a non-decreasing calibration per timeframe group, every step backed by at least 30 trades', () => {
    for (const steps of Object.values(SCORE_CALIBRATION)) {
      expect(steps.length).toBeGreaterThan(0);
      for (const [k, s] of steps.entries()) {
        expect(s.trades).toBeGreaterThanOrEqual(MIN_BLOCK_TRADES);
        expect(s.winPct).toBeCloseTo((100 * s.wins) / s.trades, 10);
        if (k > 0) expect(s.winPct).toBeGreaterThanOrEqual(steps[k - 1]!.winPct);
      }
    }
    expect([calibrationGroup('15m'), calibrationGroup('1h'), calibrationGroup('4h'), calibrationGroup('1d')]).toEqual(['intraday', 'intraday', 'intraday', 'daily']);
    expect(scoreOf('1d', 45)).toBe(calibratedScore(SCORE_CALIBRATION.daily, 45));
  });
});

describe('calibration on the shared data (in-repo slices: BTC and ETH, 1h Jan–Apr 2024, 1d 2017–2022)', () => {
  const runs: Array<{ name: string; timeframe: Timeframe; from: number; to: number; trades: Trade[] }> = [];
  beforeAll(() => {
    for (const s of sharedDataSlices()) {
      const { trades } = simulateTrades(s.candles, decideSeries(s.candles, { timeframe: s.timeframe }), { feePct: 0.1, horizonCandles: 24, from: INDICATOR_WARMUP_CANDLES - 1 });
      runs.push({ name: s.name, timeframe: s.timeframe, from: s.candles[INDICATOR_WARMUP_CANDLES - 1]!.openTime, to: s.candles.at(-1)!.openTime, trades });
    }
  }, 120_000);

  /** Each row won as often as its score says (the score inside the row's Wilson interval), and a higher score did not do worse. */
  const expectCalibrated = (rows: ReliabilityRow[]) => {
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.reduce((a, r) => a + r.trades, 0)).toBeGreaterThanOrEqual(150);
    expect(monotoneWithinInterval(rows)).toBe(true);
    for (const r of rows) {
      expect(r.score, `score ${r.score}`).toBeGreaterThanOrEqual(r.winRateLow);
      expect(r.score, `score ${r.score}`).toBeLessThanOrEqual(r.winRateHigh);
    }
  };

  it('calibration is monotone on the shared data within its interval: the committed score, as shown with each call', () => {
    const rows = reliabilityTable(runs.flatMap((r) => r.trades));
    expect(rows.map((r) => r.score)).toEqual([scoreOf('1h', 40), scoreOf('1d', 40)]);
    expectCalibrated(rows);
  });

  it('calibration is monotone on the shared data within its interval out of sample: fitted on the earlier half of every slice, read on the later half', () => {
    const later: Array<{ score: number; returnPct: number }> = [];
    for (const group of ['intraday', 'daily'] as const) {
      const halves = runs.filter((r) => calibrationGroup(r.timeframe) === group).map((r) => splitAtMiddle(r.trades, r.from, r.to));
      const earlier = halves.flatMap((h) => h.earlier);
      const { fit, rows } = outOfSampleReliability(earlier, halves.flatMap((h) => h.later));
      // The fit saw none of the trades it is judged on.
      expect(fit.reduce((a, s) => a + s.trades, 0)).toBe(earlier.length);
      expect(monotoneWithinInterval(rows)).toBe(true);
      later.push(...halves.flatMap((h) => h.later).map((t) => ({ score: calibratedScore(fit, t.vote), returnPct: t.returnPct })));
    }
    expectCalibrated(reliabilityTable(later));
  });
});
