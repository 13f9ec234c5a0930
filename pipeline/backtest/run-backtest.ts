/**
 * One walk-forward evaluation with its baselines, measured in the same run on
 * the same window: the strategy's trades and metrics, buy-and-hold, the coin
 * flips and the edge verdict. Pure; the CLI and (later) the pipeline's
 * rollups call it with their own candles and decisions.
 */
import type { TrackRecordFigures } from '../../common/edge';
import type { Candle } from '../domain';
import { INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { coinFlipBaseline, edgeOf, type CoinFlipSummary, type Edge } from './coin-flip';
import { buyAndHold, maxDrawdownPct, reliabilityTable, tradeStats, type ReliabilityRow, type TradeStats } from './metrics';
import { outOfSampleReliability, splitAtMiddle, type CalibrationStep } from '../signals/score-calibration';
import { simulateTrades, type Trade, type TradeSignal } from './simulate';

export interface BacktestOptions {
  /** Fee per side, % of notional (the pipeline's TRACK_RECORD_FEE_PCT). */
  feePct?: number;
  /** The pipeline's TRACK_RECORD_HORIZON_CANDLES. */
  horizonCandles?: number;
  /** First candle allowed to signal; defaults to the end of the indicators' warm-up. */
  from?: number;
  draws?: number;
  seed?: number;
}

export interface BacktestReport {
  candles: number;
  /** Open time of the first candle allowed to signal, and of the last candle. */
  from: number;
  to: number;
  feePct: number;
  horizonCandles: number;
  trades: Trade[];
  stats: TradeStats;
  totalReturnPct: number;
  maxDrawdownPct: number;
  buyHold: { returnPct: number; maxDrawdownPct: number };
  coinFlip: CoinFlipSummary;
  edge: Edge;
  /** Trades by the score shown with their call: trades, win rate [Wilson], expectancy. */
  reliability: ReliabilityRow[];
  /**
   * The calibration checked on this run alone: fitted (vote → win rate) on the
   * trades closed before the middle of the window, read on those opened after it.
   */
  reliabilityOutOfSample: { fit: CalibrationStep[]; rows: ReliabilityRow[] };
  /** Per candle from `from` on: open time, strategy equity, buy-and-hold equity (1 = start). */
  curve: Array<{ time: number; equity: number; buyHold: number }>;
}

export const DEFAULT_FEE_PCT = 0.1;
export const DEFAULT_HORIZON_CANDLES = 24;

export function runBacktest(candles: readonly Candle[], decisions: readonly TradeSignal[], options: BacktestOptions = {}): BacktestReport {
  if (candles.length < 2) throw new Error(`a backtest needs at least 2 candles, got ${candles.length}`);
  const feePct = options.feePct ?? DEFAULT_FEE_PCT;
  const horizonCandles = options.horizonCandles ?? DEFAULT_HORIZON_CANDLES;
  const from = Math.min(candles.length - 1, Math.max(0, options.from ?? INDICATOR_WARMUP_CANDLES - 1));
  const { trades, equity } = simulateTrades(candles, decisions, { feePct, horizonCandles, from });
  const window = equity.slice(from);
  const hold = buyAndHold(candles, from, feePct);
  const stats = tradeStats(trades);
  const coinFlip = coinFlipBaseline(candles, trades, { feePct, draws: options.draws, seed: options.seed });
  return {
    candles: candles.length,
    from: candles[from]!.openTime,
    to: candles.at(-1)!.openTime,
    feePct,
    horizonCandles,
    trades,
    stats,
    totalReturnPct: ((window.at(-1) ?? 1) / (window[0] ?? 1) - 1) * 100,
    maxDrawdownPct: maxDrawdownPct(window),
    buyHold: { returnPct: hold.returnPct, maxDrawdownPct: hold.maxDrawdownPct },
    coinFlip,
    edge: edgeOf({ trades: stats.trades, expectancyPct: stats.expectancyPct, percentile: coinFlip.percentile }),
    reliability: reliabilityTable(trades),
    reliabilityOutOfSample: (() => {
      const { earlier, later } = splitAtMiddle(trades, candles[from]!.openTime, candles.at(-1)!.openTime);
      return outOfSampleReliability(earlier, later);
    })(),
    curve: window.map((e, k) => ({ time: candles[from + k]!.openTime, equity: e, buyHold: hold.equity[from + k]! })),
  };
}

/** The `--json` summary: one flat object, the field names of issue 9. */
export interface BacktestSummary extends TrackRecordFigures {
  /** Score → trades, win rate with its 95 % Wilson interval, expectancy (percentages). */
  reliability: ReliabilityRow[];
}

export function summarize(report: BacktestReport): BacktestSummary {
  const { stats, coinFlip } = report;
  return {
    trades: stats.trades,
    winRate: stats.winRate,
    winRateLow: stats.winRateLow,
    winRateHigh: stats.winRateHigh,
    profitFactor: stats.profitFactor,
    expectancyPct: stats.expectancyPct,
    maxDrawdownPct: report.maxDrawdownPct,
    totalReturnPct: report.totalReturnPct,
    buyHoldReturnPct: report.buyHold.returnPct,
    coinFlip: { medianExpectancyPct: coinFlip.medianExpectancyPct, p5: coinFlip.p5, p95: coinFlip.p95, percentile: coinFlip.percentile },
    edge: report.edge,
    reliability: report.reliability,
  };
}
