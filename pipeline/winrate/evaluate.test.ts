import { describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors';
import type { Candle, SignalOutcome } from '../domain';
import { evaluateSignal, rollupWinRate, type EvaluatedSignal } from './evaluate';

const H = 3_600_000;
const SIGNAL_TIME = 10 * H;
/** Candle i after the signal candle: [open, high, low, close]. */
const after = (...rows: Array<[number, number, number, number]>): Candle[] =>
  rows.map(([open, high, low, close], i) => ({ openTime: SIGNAL_TIME + (i + 1) * H, open, high, low, close, volume: 1 }));

const LONG: EvaluatedSignal = { direction: 'long', entry: 100, stop: 95, takeProfit: 110, candleTime: SIGNAL_TIME };
const SHORT: EvaluatedSignal = { direction: 'short', entry: 100, stop: 105, takeProfit: 90, candleTime: SIGNAL_TIME };
const NO_FEES = { horizonCandles: 5, feePct: 0 };

describe('evaluateSignal', () => {
  it.each<[string, EvaluatedSignal, Candle[], Partial<SignalOutcome> | null]>([
    ['long: take-profit first', LONG, after([101, 104, 99, 103], [103, 111, 102, 109]), { outcome: 'win', exitReason: 'take_profit', returnPct: (110 / 101 - 1) * 100, exitTime: SIGNAL_TIME + 2 * H }],
    ['long: stop first', LONG, after([101, 102, 94, 96], [96, 115, 95, 112]), { outcome: 'loss', exitReason: 'stop', returnPct: (95 / 101 - 1) * 100, exitTime: SIGNAL_TIME + H }],
    ['long: both in the same candle counts as the stop', LONG, after([101, 111, 94, 105]), { outcome: 'loss', exitReason: 'stop', returnPct: (95 / 101 - 1) * 100 }],
    ['long: gap below the stop fills at the open', LONG, after([101, 102, 99, 100], [92, 93, 90, 91]), { outcome: 'loss', exitReason: 'stop', returnPct: (92 / 101 - 1) * 100 }],
    ['long: gap above the take-profit fills at the open', LONG, after([101, 102, 99, 100], [113, 114, 112, 113]), { outcome: 'win', exitReason: 'take_profit', returnPct: (113 / 101 - 1) * 100 }],
    ['long: horizon close above entry', LONG, after([101, 103, 99, 102], [102, 104, 100, 103], [103, 104, 101, 102], [102, 103, 100, 101], [101, 104, 100, 104]), { outcome: 'win', exitReason: 'horizon', returnPct: (104 / 101 - 1) * 100, exitTime: SIGNAL_TIME + 5 * H }],
    ['long: horizon close below entry', LONG, after([101, 103, 99, 102], [102, 104, 100, 103], [103, 104, 101, 102], [102, 103, 100, 101], [101, 104, 96, 97]), { outcome: 'loss', exitReason: 'horizon', returnPct: (97 / 101 - 1) * 100 }],
    ['long: not enough candles yet', LONG, after([101, 103, 99, 102], [102, 104, 100, 103]), null],
    ['long: nothing after the signal yet', LONG, [], null],
    ['short: take-profit first', SHORT, after([99, 100, 95, 96], [96, 97, 89, 90]), { outcome: 'win', exitReason: 'take_profit', returnPct: ((99 - 90) / 99) * 100 }],
    ['short: stop first', SHORT, after([99, 106, 98, 104]), { outcome: 'loss', exitReason: 'stop', returnPct: ((99 - 105) / 99) * 100 }],
    ['short: both in the same candle counts as the stop', SHORT, after([99, 106, 89, 95]), { outcome: 'loss', exitReason: 'stop' }],
    ['short: gap above the stop fills at the open', SHORT, after([99, 100, 98, 99], [108, 109, 107, 108]), { outcome: 'loss', exitReason: 'stop', returnPct: ((99 - 108) / 99) * 100 }],
  ])('%s', (_name, signal, candles, expected) => {
    const result = evaluateSignal(signal, candles, NO_FEES);
    if (expected === null) return expect(result).toBeNull();
    expect(result).not.toBeNull();
    const { returnPct, ...rest } = expected;
    expect(result).toMatchObject(rest);
    if (returnPct !== undefined) expect(result!.returnPct).toBeCloseTo(returnPct, 10);
  });

  it('enters at the next candle’s open, not at the signal’s entry price', () => {
    // The signal said 100, but the next candle opened at 104: the TP at 110 earns from 104.
    const r = evaluateSignal(LONG, after([104, 111, 103, 110]), NO_FEES)!;
    expect(r.returnPct).toBeCloseTo((110 / 104 - 1) * 100, 10);
  });

  it('ignores candles at or before the signal candle (no look-back into the decision, no look-ahead bias)', () => {
    const signalCandle: Candle = { openTime: SIGNAL_TIME, open: 90, high: 120, low: 80, close: 100, volume: 1 };
    const earlier: Candle = { ...signalCandle, openTime: SIGNAL_TIME - H };
    const future = after([101, 104, 99, 103], [103, 111, 102, 109]);
    expect(evaluateSignal(LONG, [earlier, signalCandle, ...future], NO_FEES)).toEqual(evaluateSignal(LONG, future, NO_FEES));
    // Unsorted input is put in time order first.
    expect(evaluateSignal(LONG, [...future].reverse(), NO_FEES)).toEqual(evaluateSignal(LONG, future, NO_FEES));
  });

  it('charges the fee on entry and on exit', () => {
    const r = evaluateSignal(LONG, after([100, 111, 99, 110]), { horizonCandles: 5, feePct: 0.1 })!;
    expect(r.returnPct).toBeCloseTo(((110 * 0.999 - 100 * 1.001) / 100) * 100, 10); // 9.789 %
    const s = evaluateSignal(SHORT, after([100, 101, 89, 90]), { horizonCandles: 5, feePct: 0.1 })!;
    expect(s.returnPct).toBeCloseTo(((100 * 0.999 - 90 * 1.001) / 100) * 100, 10);
  });

  it('judges a take-profit eaten by fees as a loss (wins are net profits)', () => {
    const tight: EvaluatedSignal = { ...LONG, stop: 99, takeProfit: 100.1 };
    const r = evaluateSignal(tight, after([100, 100.2, 99.9, 100.1]), { horizonCandles: 5, feePct: 0.1 })!;
    expect(r.exitReason).toBe('take_profit');
    expect(r.outcome).toBe('loss');
  });

  it('rejects a signal whose levels are on the wrong sides', () => {
    expect(() => evaluateSignal({ ...LONG, stop: 120 }, after([100, 101, 99, 100]), NO_FEES)).toThrow(AppError);
    expect(() => evaluateSignal({ ...SHORT, takeProfit: 120 }, after([100, 101, 99, 100]), NO_FEES)).toThrow(AppError);
  });
});

describe('rollupWinRate', () => {
  const NOW = Date.UTC(2025, 5, 30);
  const DAY = 86_400_000;
  const o = (daysAgo: number, returnPct: number): SignalOutcome & { candleTime: number } => ({
    outcome: returnPct > 0 ? 'win' : 'loss',
    exitReason: returnPct > 0 ? 'take_profit' : 'stop',
    returnPct,
    exitTime: NOW - daysAgo * DAY + H,
    candleTime: NOW - daysAgo * DAY,
  });
  const outcomes = [o(1, 4), o(2, -2), o(3, 6), o(10, -3), o(20, 2), o(40, -5), o(100, 10)];

  it.each([
    ['7d', { trades: 3, wins: 2, losses: 1, winPct: (2 / 3) * 100, avgWinPct: 5, avgLossPct: -2, profitFactor: 10 / 2, expectancyPct: 8 / 3 }],
    ['30d', { trades: 5, wins: 3, losses: 2, winPct: 60, avgWinPct: 4, avgLossPct: -2.5, profitFactor: 12 / 5, expectancyPct: 7 / 5 }],
    ['all', { trades: 7, wins: 4, losses: 3, winPct: (4 / 7) * 100, avgWinPct: 5.5, avgLossPct: -10 / 3, profitFactor: 22 / 10, expectancyPct: 12 / 7 }],
  ] as const)('%s window', (window, expected) => {
    const r = rollupWinRate(outcomes, window, NOW, { startPrice: 50_000, endPrice: 55_000 });
    expect(r.window).toBe(window);
    expect(r.trades).toBe(expected.trades);
    expect(r.wins).toBe(expected.wins);
    expect(r.losses).toBe(expected.losses);
    for (const k of ['winPct', 'avgWinPct', 'avgLossPct', 'profitFactor', 'expectancyPct'] as const) expect(r[k]).toBeCloseTo(expected[k], 10);
    expect(r.buyHoldPct).toBeCloseTo(10, 10);
    // Expectancy = W·avgWin + L·avgLoss.
    expect(r.expectancyPct!).toBeCloseTo((r.wins / r.trades) * r.avgWinPct! + (r.losses / r.trades) * r.avgLossPct!, 10);
  });

  it('reports nulls, not zeros or Infinity, where a statistic is undefined', () => {
    expect(rollupWinRate([], '7d', NOW, null)).toEqual({
      window: '7d', trades: 0, wins: 0, losses: 0, winPct: null, avgWinPct: null, avgLossPct: null, profitFactor: null, expectancyPct: null, buyHoldPct: null,
    });
    const onlyWins = rollupWinRate([o(1, 3), o(2, 1)], '7d', NOW, null);
    expect(onlyWins.profitFactor).toBeNull();
    expect(onlyWins.avgLossPct).toBeNull();
    expect(onlyWins.winPct).toBe(100);
  });

  it('excludes signals from the future of `now`', () => {
    expect(rollupWinRate([o(-1, 5), o(1, 5)], 'all', NOW, null).trades).toBe(1);
  });
});
