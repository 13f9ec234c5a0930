/**
 * The product's track record: what a trader following the signals of one
 * pair and timeframe would have made, walked forward with the backtest's own
 * simulator (pipeline/backtest) over the stored candles and the decision of
 * each candle (live signals, and the walk-forward decisions of the history
 * loaded when the pair was added). One rollup per window, each a trader who
 * started following at the window's start: independent trades, win rate with
 * its Wilson interval, profit factor, expectancy after fees, drawdown,
 * return, and over the same candles buy-and-hold, the seeded coin flip and
 * the edge verdict. Pure.
 */
import { windowWords, type EdgeFacts, type SeededCoinFlip, type TrackRecordFigures } from '../../common/edge';
import type { Timeframe } from '../../common/symbols';
import { runBacktest } from '../backtest/run-backtest';
import type { TradeSignal } from '../backtest/simulate';
import type { Candle } from '../domain';

export type TrackWindow = '7d' | '30d' | 'all';

export const TRACK_WINDOWS: ReadonlyArray<{ name: TrackWindow; ms: number | null }> = [
  { name: '7d', ms: 7 * 86_400_000 },
  { name: '30d', ms: 30 * 86_400_000 },
  { name: 'all', ms: null },
];

export interface TrackRecordSettings {
  feePct: number;
  horizonCandles: number;
  /** Coin-flip draws (≥ 200) and their fixed seed: the same data gives the same baseline. */
  draws: number;
  seed: number;
}

export interface TrackRecord extends TrackRecordFigures {
  window: TrackWindow;
  /** Open time of the first candle allowed to signal, and of the newest candle. */
  fromTime: number;
  toTime: number;
  candles: number;
  wins: number;
  coinFlip: SeededCoinFlip;
  /** [openTime, strategy equity, buy-and-hold equity] (1 = start), at most EQUITY_POINTS points. */
  equity: Array<[number, number, number]>;
}

/** Enough points for a card-sized curve; the full curve lives in the backtest report. */
export const EQUITY_POINTS = 120;

const FLAT: TradeSignal = { direction: 'flat', score: 0, stop: null, takeProfit: null };

/** Evenly spaced points of a curve, the first and the last always kept. */
export function downsample<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const out: T[] = [];
  for (let k = 0; k < max; k++) out.push(points[Math.round((k * (points.length - 1)) / (max - 1))]!);
  return out;
}

/**
 * `decisions[i]` is the decision taken at the close of candle i, or null
 * where none was taken (before the history's warm-up): the record starts at
 * the first candle with a decision, so buy-and-hold is measured over the
 * same candles the strategy could trade. A window without two candles to
 * trade is left out.
 */
export function computeTrackRecords(
  candles: readonly Candle[],
  decisions: ReadonlyArray<TradeSignal | null>,
  settings: TrackRecordSettings,
  now: number,
): TrackRecord[] {
  if (decisions.length !== candles.length) throw new Error(`computeTrackRecords: ${decisions.length} decisions for ${candles.length} candles`);
  const first = decisions.findIndex((d) => d !== null);
  if (first === -1 || candles.length < 2) return [];
  const series = decisions.map((d) => d ?? FLAT);
  const records: TrackRecord[] = [];
  // Windows that start at the same candle are the same backtest (a new 5m pair's ~7 days of history is all
  // three): each start is run once.
  const runs = new Map<number, ReturnType<typeof runBacktest>>();
  for (const w of TRACK_WINDOWS) {
    const since = w.ms === null ? -Infinity : now - w.ms;
    const start = Math.max(first, candles.findIndex((c) => c.openTime >= since));
    if (start < 0 || start >= candles.length - 1) continue;
    let r = runs.get(start);
    if (!r) {
      r = runBacktest(candles, series, { from: start, feePct: settings.feePct, horizonCandles: settings.horizonCandles, draws: settings.draws, seed: settings.seed });
      runs.set(start, r);
    }
    records.push({
      window: w.name,
      fromTime: r.from,
      toTime: r.to,
      candles: candles.length - start,
      trades: r.stats.trades,
      wins: r.stats.wins,
      winRate: r.stats.winRate,
      winRateLow: r.stats.winRateLow,
      winRateHigh: r.stats.winRateHigh,
      profitFactor: r.stats.profitFactor,
      expectancyPct: r.stats.expectancyPct,
      maxDrawdownPct: r.maxDrawdownPct,
      totalReturnPct: r.totalReturnPct,
      buyHoldReturnPct: r.buyHold.returnPct,
      coinFlip: {
        draws: r.coinFlip.draws,
        seed: r.coinFlip.seed,
        medianExpectancyPct: r.coinFlip.medianExpectancyPct,
        p5: r.coinFlip.p5,
        p95: r.coinFlip.p95,
        percentile: r.coinFlip.percentile,
      },
      edge: r.edge,
      equity: downsample(r.curve, EQUITY_POINTS).map((p) => [p.time, p.equity, p.buyHold]),
    });
  }
  return records;
}

/**
 * The facts a signal carries about its pair's edge (the `all` window), or
 * null without trades to judge by. The window is the span of candles the
 * record covers, in words ("the last 1,400 hours").
 */
export type EdgeInput = Pick<TrackRecord, 'candles' | 'trades' | 'expectancyPct' | 'edge'> & {
  coinFlip: Pick<TrackRecord['coinFlip'], 'medianExpectancyPct' | 'percentile'>;
};

export function edgeFactsOf(record: EdgeInput | null, timeframe: Timeframe, timeframeMs: number): EdgeFacts | null {
  if (!record || record.trades === 0 || record.expectancyPct === null || record.coinFlip.medianExpectancyPct === null || record.coinFlip.percentile === null) {
    return null;
  }
  return {
    verdict: record.edge,
    trades: record.trades,
    expectancyPct: record.expectancyPct,
    coinFlipMedianPct: record.coinFlip.medianExpectancyPct,
    percentile: record.coinFlip.percentile,
    window: windowWords(record.candles * timeframeMs, timeframe),
  };
}
