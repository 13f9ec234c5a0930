/**
 * The signal strategy: a weighted vote of the indicators of the newest closed
 * candle. Pure and look-ahead free: it reads the last candle's close and the
 * values computed from candles up to it, nothing else.
 *
 * Voting (weights in parentheses; an indicator still warming up does not vote
 * and does not count):
 *   Trend and momentum, vote with the move:
 *     ema_trend (2)     close > EMA20 > EMA50 long; close < EMA20 < EMA50 short; else neutral
 *     ema200 (1.5)      close above EMA200 long, below short
 *     macd (1.5)        histogram > 0 long, < 0 short
 *     adx14 (1)         ADX ≥ 25 (a trend exists) votes the side of close vs EMA50; else neutral
 *     psar (1)          SAR below the close long, above short
 *     ao (1)            > 0 long, < 0 short
 *     roc12 (1)         > +0.5 % long, < −0.5 % short
 *     obv_slope (1)     > +0.1 long (volume flowing in), < −0.1 short
 *   Oscillators, vote against stretched extremes (mean reversion), neutral between:
 *     rsi14 (1.5)       ≤ 30 long, ≥ 70 short
 *     stoch_k (0.75)    ≤ 20 long, ≥ 80 short
 *     stoch_rsi (0.5)   ≤ 0.2 long, ≥ 0.8 short
 *     cci20 (0.75)      ≤ −100 long, ≥ 100 short
 *     mfi14 (0.75)      ≤ 20 long, ≥ 80 short
 *     williams_r (0.5)  ≤ −80 long, ≥ −20 short
 *     bb_percent_b (0.75) < 0 long (below the lower band), > 1 short
 *
 * vote = 100 · |Σ long weights − Σ short weights| / Σ weights of all voters
 * (neutral voters dilute it: agreement must be broad). In the extreme
 * volatility regime the vote is multiplied by 0.7, since signals there are
 * noisier. The direction is the net side when vote ≥ threshold (default 40),
 * else flat.
 *
 * The score a trader reads is not the vote: it is the vote calibrated on the
 * measured record (score-calibration.ts), the share of past calls like this
 * one that closed in profit after fees; 0 for a flat decision.
 *
 * Stop and take-profit are volatility-scaled: stop = entry ∓ 1.5·ATR14,
 * take-profit = entry ± 3·ATR14 (2R). Liquidation clusters nudge the take-
 * profit: the strongest opposite-side band (short liquidations above a long,
 * long liquidations below a short) with strength ≥ 0.5 lying between 1 and 5
 * ATR away becomes the target, placed at its near edge, since forced orders
 * there tend to pull price in and fill before the band is fully crossed.
 * Flat signals have no stop or take-profit.
 *
 * Opt-in rules, measured walk-forward in docs/STRATEGY.md and left off by
 * default because none helped on all four data sets: `minRewardRisk` (a
 * cluster target at least that many stop distances away; 1 keeps wins no
 * smaller than losses), `trendGate` (long only above EMA200, short only
 * below) and `minMoveFees` (the target must clear N round-trip fees).
 */
import { AppError } from '../../common/errors';
import type { Timeframe } from '../../common/symbols';
import type { Candle, Direction, IndicatorValues, LiqCluster, RiskMetric, SignalDecision, SignalReason } from '../domain';
import { scoreOf } from './score-calibration';

export interface StrategyOptions {
  /** Minimum vote (indicator agreement) for a long/short call. */
  threshold?: number;
  stopAtr?: number;
  takeProfitAtr?: number;
  /** A liquidation-cluster target must lie at least this many stop distances away (reward/risk). */
  minRewardRisk?: number;
  /** Long only above EMA200, short only below it (trade with the long-term regime). */
  trendGate?: boolean;
  /** Stay flat unless the take-profit distance is at least this many round-trip fees. */
  minMoveFees?: number;
  /** Fee per side, % of notional, for minMoveFees. */
  feePct?: number;
}

export interface StrategyInput {
  candles: readonly Candle[];
  indicators: IndicatorValues;
  risk: RiskMetric;
  clusters: readonly LiqCluster[];
  /** Picks the score calibration (score-calibration.ts): hourly and daily calls win at different rates. */
  timeframe: Timeframe;
}

export const DEFAULT_THRESHOLD = 40;
const EXTREME_VOL_DAMPING = 0.7;
const CLUSTER_MIN_STRENGTH = 0.5;
const CLUSTER_MIN_ATR = 1;
const CLUSTER_MAX_ATR = 5;

type Vote = SignalReason['vote'];

const fmt = (x: number, digits = 2): string => (Math.abs(x) >= 1000 ? x.toFixed(0) : x.toPrecision(Math.max(digits, 3)));

/** Contrarian vote at the extremes of an oscillator. */
function extreme(indicator: string, value: number, weight: number, low: number, high: number): SignalReason {
  const vote: Vote = value <= low ? 'long' : value >= high ? 'short' : 'neutral';
  const where = vote === 'long' ? `≤ ${low}, oversold` : vote === 'short' ? `≥ ${high}, overbought` : `between ${low} and ${high}`;
  return { indicator, vote, weight, detail: `${indicator} ${fmt(value)} (${where})` };
}

function sign(indicator: string, value: number, weight: number, deadband: number, what: string): SignalReason {
  const vote: Vote = value > deadband ? 'long' : value < -deadband ? 'short' : 'neutral';
  return { indicator, vote, weight, detail: `${what} ${fmt(value)}${vote === 'neutral' ? ' (flat)' : vote === 'long' ? ' (rising)' : ' (falling)'}` };
}

/** The votes of the indicators that have a value. */
export function collectVotes(close: number, v: IndicatorValues): SignalReason[] {
  const votes: SignalReason[] = [];
  if (v.ema20 !== null && v.ema50 !== null) {
    const up = close > v.ema20 && v.ema20 > v.ema50;
    const down = close < v.ema20 && v.ema20 < v.ema50;
    votes.push({
      indicator: 'ema_trend',
      vote: up ? 'long' : down ? 'short' : 'neutral',
      weight: 2,
      detail: up ? 'close > EMA20 > EMA50' : down ? 'close < EMA20 < EMA50' : 'EMAs not stacked',
    });
  }
  if (v.ema200 !== null) {
    votes.push({ indicator: 'ema200', vote: close > v.ema200 ? 'long' : close < v.ema200 ? 'short' : 'neutral', weight: 1.5, detail: `close ${close > v.ema200 ? 'above' : 'below'} EMA200 ${fmt(v.ema200)}` });
  }
  if (v.macd_hist !== null) votes.push(sign('macd', v.macd_hist, 1.5, 0, 'MACD histogram'));
  if (v.adx14 !== null && v.ema50 !== null) {
    const trending = v.adx14 >= 25;
    const vote: Vote = !trending ? 'neutral' : close > v.ema50 ? 'long' : close < v.ema50 ? 'short' : 'neutral';
    votes.push({ indicator: 'adx14', vote, weight: 1, detail: trending ? `ADX ${fmt(v.adx14)} confirms the trend` : `ADX ${fmt(v.adx14)} < 25, no trend` });
  }
  if (v.psar !== null) {
    votes.push({ indicator: 'psar', vote: v.psar < close ? 'long' : v.psar > close ? 'short' : 'neutral', weight: 1, detail: `SAR ${fmt(v.psar)} ${v.psar < close ? 'below' : 'above'} price` });
  }
  if (v.ao !== null) votes.push(sign('ao', v.ao, 1, 0, 'Awesome Oscillator'));
  if (v.roc12 !== null) votes.push(sign('roc12', v.roc12, 1, 0.5, 'ROC(12) %'));
  if (v.obv_slope !== null) votes.push(sign('obv_slope', v.obv_slope, 1, 0.1, 'OBV slope'));
  if (v.rsi14 !== null) votes.push(extreme('rsi14', v.rsi14, 1.5, 30, 70));
  if (v.stoch_k !== null) votes.push(extreme('stoch_k', v.stoch_k, 0.75, 20, 80));
  if (v.stoch_rsi !== null) votes.push(extreme('stoch_rsi', v.stoch_rsi, 0.5, 0.2, 0.8));
  if (v.cci20 !== null) votes.push(extreme('cci20', v.cci20, 0.75, -100, 100));
  if (v.mfi14 !== null) votes.push(extreme('mfi14', v.mfi14, 0.75, 20, 80));
  if (v.williams_r !== null) votes.push(extreme('williams_r', v.williams_r, 0.5, -80, -20));
  if (v.bb_percent_b !== null) {
    const b = v.bb_percent_b;
    votes.push({ indicator: 'bb_percent_b', vote: b < 0 ? 'long' : b > 1 ? 'short' : 'neutral', weight: 0.75, detail: `%B ${fmt(b)} (${b < 0 ? 'below the lower band' : b > 1 ? 'above the upper band' : 'inside the bands'})` });
  }
  return votes;
}

export function decideSignal(input: StrategyInput, options: StrategyOptions = {}): SignalDecision {
  const last = input.candles.at(-1);
  if (!last) throw new AppError('bad_request', 'decideSignal needs at least one candle');
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  const entry = last.close;
  const reasons = collectVotes(entry, input.indicators);

  let long = 0;
  let short = 0;
  let total = 0;
  for (const r of reasons) {
    total += r.weight;
    if (r.vote === 'long') long += r.weight;
    else if (r.vote === 'short') short += r.weight;
  }
  let agreement = total > 0 ? (100 * Math.abs(long - short)) / total : 0;
  if (input.risk.regime === 'extreme') {
    agreement *= EXTREME_VOL_DAMPING;
    reasons.push({ indicator: 'risk_regime', vote: 'neutral', weight: 0, detail: `extreme volatility (${(input.risk.realizedVol * 100).toFixed(0)} % annualised): vote ×${EXTREME_VOL_DAMPING}` });
  }
  const vote = Math.max(0, Math.min(100, Math.round(agreement)));

  // No call, no win rate to quote: a flat decision scores 0 ("0 · no call"); its agreement stays in `vote`.
  const flat = (): SignalDecision => ({ direction: 'flat', vote, score: 0, entry, stop: null, takeProfit: null, reasons });

  // ATR from the indicators, else from the risk metric; without either there is no honest stop.
  const atr = input.indicators.atr14 ?? (input.risk.atrPct > 0 ? (input.risk.atrPct / 100) * entry : null);
  let direction: Direction = vote >= threshold && long !== short ? (long > short ? 'long' : 'short') : 'flat';
  if (direction !== 'flat' && !(atr !== null && atr > 0)) {
    reasons.push({ indicator: 'atr14', vote: 'neutral', weight: 0, detail: 'no volatility estimate for a stop: staying flat' });
    direction = 'flat';
  }
  if (direction === 'flat' || atr === null) return flat();

  const ema200 = input.indicators.ema200;
  if (options.trendGate && ema200 !== null && (direction === 'long' ? entry < ema200 : entry > ema200)) {
    reasons.push({ indicator: 'trend_gate', vote: 'neutral', weight: 0, detail: `a ${direction} against the EMA200 regime: staying flat` });
    return flat();
  }
  const stopAtr = options.stopAtr ?? 1.5;
  const takeProfitAtr = options.takeProfitAtr ?? 3;
  if (options.minMoveFees && ((takeProfitAtr * atr) / entry) * 100 < options.minMoveFees * 2 * (options.feePct ?? 0.1)) {
    reasons.push({ indicator: 'fee_hurdle', vote: 'neutral', weight: 0, detail: `a ${fmt(((takeProfitAtr * atr) / entry) * 100)} % target does not clear ${options.minMoveFees}× the round-trip fee: staying flat` });
    return flat();
  }
  const s = direction === 'long' ? 1 : -1;
  const stop = entry - s * stopAtr * atr;
  let takeProfit = entry + s * takeProfitAtr * atr;
  // Reward/risk ≥ minRewardRisk: with 1, a cluster nearer than the stop is no target worth the risk.
  const minTargetAtr = Math.max(CLUSTER_MIN_ATR, (options.minRewardRisk ?? 0) * stopAtr);
  const target = clusterTarget(direction, entry, atr, input.clusters, minTargetAtr);
  if (target) {
    takeProfit = target.price;
    reasons.push({
      indicator: 'liq_cluster',
      vote: direction,
      weight: 0,
      detail: `take-profit at ${direction === 'long' ? 'short' : 'long'}-liquidation band ${fmt(target.cluster.priceLow)}–${fmt(target.cluster.priceHigh)} (strength ${target.cluster.strength.toFixed(2)}, ${target.cluster.source})`,
    });
  }
  const score = scoreOf(input.timeframe, vote);
  reasons.push({
    indicator: 'score',
    vote: direction,
    weight: 0,
    detail: `score ${score}: ${score} of 100 past ${input.timeframe === '1d' ? 'daily' : 'intraday'} calls with agreement ${vote} or near it closed in profit after fees`,
  });
  return { direction, vote, score, entry, stop, takeProfit, reasons };
}

/** The strongest opposite-side band within reach, and the near edge of it as the target price. */
export function clusterTarget(
  direction: 'long' | 'short',
  entry: number,
  atr: number,
  clusters: readonly LiqCluster[],
  minAtr = CLUSTER_MIN_ATR,
): { price: number; cluster: LiqCluster } | null {
  let best: { price: number; cluster: LiqCluster } | null = null;
  for (const c of clusters) {
    if (c.strength < CLUSTER_MIN_STRENGTH) continue;
    const wanted = direction === 'long' ? 'short' : 'long';
    if (c.side !== wanted) continue;
    const price = direction === 'long' ? c.priceLow : c.priceHigh;
    const distance = (direction === 'long' ? price - entry : entry - price) / atr;
    if (distance < minAtr || distance > CLUSTER_MAX_ATR) continue;
    const nearer = best !== null && Math.abs(price - entry) < Math.abs(best.price - entry);
    if (!best || c.strength > best.cluster.strength || (c.strength === best.cluster.strength && nearer)) best = { price, cluster: c };
  }
  return best;
}
