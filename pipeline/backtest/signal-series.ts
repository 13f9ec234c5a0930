/**
 * The pipeline's own decision at every candle, as the ingest and the signal
 * job would have taken it live: indicators from the history up to the candle
 * (one incremental pass, no look-ahead by construction), risk and liquidation
 * clusters from the ingest's window ending at the candle (its newest
 * RECENT_CANDLES, all they read of it), then the strategy.
 * Element i depends on candles 0..i only; signal-series.test.ts proves it by
 * rewriting the future.
 */
import type { Timeframe } from '../../common/symbols';
import type { Candle, IndicatorValues, LiqCluster, RiskMetric, SignalDecision } from '../domain';
import { createIndicatorEngine, INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { createClusterEstimator, DEFAULT_ENTRY_CANDLES } from '../liquidations/estimate-clusters';
import { computeRisk, RISK_CANDLES } from '../risk/compute-risk';
import { decideCall, type StrategyInput, type StrategyOptions } from '../signals/strategy';
import type { TradeSignal } from './simulate';

/** The strategy as a function of one candle's inputs: decideSignal, or a candidate being measured. */
export type DecideFn = (input: StrategyInput & { timeframe: Timeframe }) => Pick<SignalDecision, 'direction' | 'score' | 'stop' | 'takeProfit'> & { vote?: number };

export interface SignalSeriesOptions {
  timeframe: Timeframe;
  /**
   * Candles of the ingest's window, for risk and clusters (the indicators see the whole history).
   * Both read only the newest RECENT_CANDLES of it, and so does the strategy: `candles` of its input
   * are those (fewer only at the start of the history), not the whole window.
   */
  lookback?: number;
  strategy?: StrategyOptions;
  decide?: DecideFn;
}

const FLAT: TradeSignal = { direction: 'flat', score: 0, stop: null, takeProfit: null };

/**
 * The newest candles of the window that risk (given the indicators' ATR) and
 * the cluster estimate read: a walk-forward hands each candle those, not a
 * copy of its whole window (1,000 candles at each of ~1,400: the walk-forward's
 * largest allocation).
 */
export const RECENT_CANDLES = Math.max(RISK_CANDLES, DEFAULT_ENTRY_CANDLES);

/**
 * The decision at the close of every candle. Candles before the indicators'
 * warm-up get a flat decision without running the strategy: their EMA200
 * would still be dominated by its seed (and their indicator values are not
 * even read).
 */
export function decideSeries(candles: readonly Candle[], options: SignalSeriesOptions): TradeSignal[] {
  const lookback = options.lookback ?? INDICATOR_WARMUP_CANDLES;
  // decideSignal's decision without its reasons, which a series discards.
  const decide: DecideFn = options.decide ?? ((input) => decideCall(input, options.strategy));
  const engine = createIndicatorEngine();
  const estimateClusters = createClusterEstimator();
  return candles.map((candle, i) => {
    engine.push(candle);
    if (i + 1 < INDICATOR_WARMUP_CANDLES) return FLAT;
    const indicators: IndicatorValues = engine.values();
    const from = Math.max(0, i + 1 - lookback);
    // Without an ATR (not finite), risk falls back to the mean true range of the whole window.
    const window = candles.slice(indicators.atr14 === null ? from : Math.max(from, i + 1 - RECENT_CANDLES), i + 1);
    const risk: RiskMetric = computeRisk(window, options.timeframe, indicators.atr14);
    // Estimated on first read: the strategy reads clusters only for a call's take-profit, and most
    // candles are flat, so a new watcher's walk-forward skips most of its costliest step.
    let clusters: LiqCluster[] | undefined;
    const input = {
      candles: window,
      indicators,
      risk,
      get clusters(): LiqCluster[] {
        return (clusters ??= estimateClusters(window));
      },
      timeframe: options.timeframe,
    };
    const d = decide(input);
    return { direction: d.direction, score: d.score, vote: d.vote ?? d.score, stop: d.stop, takeProfit: d.takeProfit };
  });
}
