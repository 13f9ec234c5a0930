/**
 * The pipeline's own decision at every candle, as the ingest and the signal
 * job would have taken it live: indicators from the history up to the candle
 * (one incremental pass, no look-ahead by construction), risk and liquidation
 * clusters from the ingest's window ending at the candle, then the strategy.
 * Element i depends on candles 0..i only; signal-series.test.ts proves it by
 * rewriting the future.
 */
import type { Timeframe } from '../../common/symbols';
import type { Candle, IndicatorValues, LiqCluster, RiskMetric, SignalDecision } from '../domain';
import { computeIndicatorSeries, INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { estimateLiquidationClusters } from '../liquidations/estimate-clusters';
import { computeRisk } from '../risk/compute-risk';
import { decideSignal, type StrategyInput, type StrategyOptions } from '../signals/strategy';
import type { TradeSignal } from './simulate';

/** The strategy as a function of one candle's inputs: decideSignal, or a candidate being measured. */
export type DecideFn = (input: StrategyInput & { timeframe: Timeframe }) => Pick<SignalDecision, 'direction' | 'score' | 'stop' | 'takeProfit'> & { vote?: number };

export interface SignalSeriesOptions {
  timeframe: Timeframe;
  /** Candles of the ingest's window, for risk and clusters (the indicators see the whole history). */
  lookback?: number;
  strategy?: StrategyOptions;
  decide?: DecideFn;
}

const FLAT: TradeSignal = { direction: 'flat', score: 0, stop: null, takeProfit: null };

/**
 * The decision at the close of every candle. Candles before the indicators'
 * warm-up get a flat decision without running the strategy: their EMA200
 * would still be dominated by its seed.
 */
export function decideSeries(candles: readonly Candle[], options: SignalSeriesOptions): TradeSignal[] {
  const lookback = options.lookback ?? INDICATOR_WARMUP_CANDLES;
  const decide: DecideFn = options.decide ?? ((input) => decideSignal(input, options.strategy));
  const series: IndicatorValues[] = computeIndicatorSeries(candles);
  return candles.map((_c, i) => {
    if (i + 1 < INDICATOR_WARMUP_CANDLES) return FLAT;
    const window = candles.slice(Math.max(0, i + 1 - lookback), i + 1);
    const risk: RiskMetric = computeRisk(window, options.timeframe, series[i]!.atr14);
    // Estimated on first read: the strategy reads clusters only for a call's take-profit, and most
    // candles are flat, so a new watcher's walk-forward skips most of its costliest step.
    let clusters: LiqCluster[] | undefined;
    const input = {
      candles: window,
      indicators: series[i]!,
      risk,
      get clusters(): LiqCluster[] {
        return (clusters ??= estimateLiquidationClusters(window));
      },
      timeframe: options.timeframe,
    };
    const d = decide(input);
    return { direction: d.direction, score: d.score, vote: d.vote ?? d.score, stop: d.stop, takeProfit: d.takeProfit };
  });
}
