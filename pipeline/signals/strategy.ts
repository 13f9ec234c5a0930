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

/**
 * One indicator's vote: null while it warms up (it then neither votes nor
 * counts). Its reason's text is a separate function because only an explained
 * decision needs it: a new watcher's walk-forward decides at ~2,000 candles and
 * discards the reasons, and formatting them was ~15 % of that walk-forward.
 */
interface VoteRule {
  indicator: string;
  weight: number;
  vote(close: number, v: IndicatorValues): Vote | null;
  detail(close: number, v: IndicatorValues, vote: Vote): string;
}

/** Contrarian vote at the extremes of an oscillator. */
function extreme(indicator: string, value: (v: IndicatorValues) => number | null, weight: number, low: number, high: number): VoteRule {
  return {
    indicator,
    weight,
    vote: (_close, v) => {
      const x = value(v);
      return x === null ? null : x <= low ? 'long' : x >= high ? 'short' : 'neutral';
    },
    detail: (_close, v, vote) =>
      `${indicator} ${fmt(value(v)!)} (${vote === 'long' ? `≤ ${low}, oversold` : vote === 'short' ? `≥ ${high}, overbought` : `between ${low} and ${high}`})`,
  };
}

function sign(indicator: string, value: (v: IndicatorValues) => number | null, weight: number, deadband: number, what: string): VoteRule {
  return {
    indicator,
    weight,
    vote: (_close, v) => {
      const x = value(v);
      return x === null ? null : x > deadband ? 'long' : x < -deadband ? 'short' : 'neutral';
    },
    detail: (_close, v, vote) => `${what} ${fmt(value(v)!)}${vote === 'neutral' ? ' (flat)' : vote === 'long' ? ' (rising)' : ' (falling)'}`,
  };
}

/** The voters, in the order their reasons are listed. */
const VOTE_RULES: readonly VoteRule[] = [
  {
    indicator: 'ema_trend',
    weight: 2,
    vote: (close, v) => {
      if (v.ema20 === null || v.ema50 === null) return null;
      return close > v.ema20 && v.ema20 > v.ema50 ? 'long' : close < v.ema20 && v.ema20 < v.ema50 ? 'short' : 'neutral';
    },
    detail: (_close, _v, vote) => (vote === 'long' ? 'close > EMA20 > EMA50' : vote === 'short' ? 'close < EMA20 < EMA50' : 'EMAs not stacked'),
  },
  {
    indicator: 'ema200',
    weight: 1.5,
    vote: (close, v) => (v.ema200 === null ? null : close > v.ema200 ? 'long' : close < v.ema200 ? 'short' : 'neutral'),
    detail: (close, v) => `close ${close > v.ema200! ? 'above' : 'below'} EMA200 ${fmt(v.ema200!)}`,
  },
  sign('macd', (v) => v.macd_hist, 1.5, 0, 'MACD histogram'),
  {
    indicator: 'adx14',
    weight: 1,
    vote: (close, v) => {
      if (v.adx14 === null || v.ema50 === null) return null;
      return v.adx14 < 25 ? 'neutral' : close > v.ema50 ? 'long' : close < v.ema50 ? 'short' : 'neutral';
    },
    detail: (_close, v) => (v.adx14! >= 25 ? `ADX ${fmt(v.adx14!)} confirms the trend` : `ADX ${fmt(v.adx14!)} < 25, no trend`),
  },
  {
    indicator: 'psar',
    weight: 1,
    vote: (close, v) => (v.psar === null ? null : v.psar < close ? 'long' : v.psar > close ? 'short' : 'neutral'),
    detail: (close, v) => `SAR ${fmt(v.psar!)} ${v.psar! < close ? 'below' : 'above'} price`,
  },
  sign('ao', (v) => v.ao, 1, 0, 'Awesome Oscillator'),
  sign('roc12', (v) => v.roc12, 1, 0.5, 'ROC(12) %'),
  sign('obv_slope', (v) => v.obv_slope, 1, 0.1, 'OBV slope'),
  extreme('rsi14', (v) => v.rsi14, 1.5, 30, 70),
  extreme('stoch_k', (v) => v.stoch_k, 0.75, 20, 80),
  extreme('stoch_rsi', (v) => v.stoch_rsi, 0.5, 0.2, 0.8),
  extreme('cci20', (v) => v.cci20, 0.75, -100, 100),
  extreme('mfi14', (v) => v.mfi14, 0.75, 20, 80),
  extreme('williams_r', (v) => v.williams_r, 0.5, -80, -20),
  {
    indicator: 'bb_percent_b',
    weight: 0.75,
    vote: (_close, v) => (v.bb_percent_b === null ? null : v.bb_percent_b < 0 ? 'long' : v.bb_percent_b > 1 ? 'short' : 'neutral'),
    detail: (_close, v) => {
      const b = v.bb_percent_b!;
      return `%B ${fmt(b)} (${b < 0 ? 'below the lower band' : b > 1 ? 'above the upper band' : 'inside the bands'})`;
    },
  },
];

/**
 * The weights voting long and short, and of every voter (the indicators that
 * have a value). With `reasons`, each vote's reason is added to it, in the
 * rules' order: one pass over the rules serves an explained decision and a
 * walk-forward's alike.
 */
function tallyVotes(close: number, v: IndicatorValues, reasons?: SignalReason[]): { long: number; short: number; total: number } {
  let long = 0;
  let short = 0;
  let total = 0;
  for (const rule of VOTE_RULES) {
    const vote = rule.vote(close, v);
    if (vote === null) continue;
    total += rule.weight;
    if (vote === 'long') long += rule.weight;
    else if (vote === 'short') short += rule.weight;
    reasons?.push({ indicator: rule.indicator, vote, weight: rule.weight, detail: rule.detail(close, v, vote) });
  }
  return { long, short, total };
}

export function decideSignal(input: StrategyInput, options: StrategyOptions = {}): SignalDecision {
  return decide(input, options, true);
}

/** decideSignal's decision without its reasons (`reasons` is empty): for a walk-forward, which discards them. */
export function decideCall(input: StrategyInput, options: StrategyOptions = {}): SignalDecision {
  return decide(input, options, false);
}

function decide(input: StrategyInput, options: StrategyOptions, explain: boolean): SignalDecision {
  const last = input.candles.at(-1);
  if (!last) throw new AppError('bad_request', 'decideSignal needs at least one candle');
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  const entry = last.close;
  const reasons: SignalReason[] = [];
  const { long, short, total } = tallyVotes(entry, input.indicators, explain ? reasons : undefined);
  let agreement = total > 0 ? (100 * Math.abs(long - short)) / total : 0;
  if (input.risk.regime === 'extreme') {
    agreement *= EXTREME_VOL_DAMPING;
    if (explain) reasons.push({ indicator: 'risk_regime', vote: 'neutral', weight: 0, detail: `extreme volatility (${(input.risk.realizedVol * 100).toFixed(0)} % annualised): vote ×${EXTREME_VOL_DAMPING}` });
  }
  const vote = Math.max(0, Math.min(100, Math.round(agreement)));

  // No call, no win rate to quote: a flat decision scores 0 ("0 · no call"); its agreement stays in `vote`.
  const flat = (): SignalDecision => ({ direction: 'flat', vote, score: 0, entry, stop: null, takeProfit: null, reasons });

  // ATR from the indicators, else from the risk metric; without either there is no honest stop.
  const atr = input.indicators.atr14 ?? (input.risk.atrPct > 0 ? (input.risk.atrPct / 100) * entry : null);
  let direction: Direction = vote >= threshold && long !== short ? (long > short ? 'long' : 'short') : 'flat';
  if (direction !== 'flat' && !(atr !== null && atr > 0)) {
    if (explain) reasons.push({ indicator: 'atr14', vote: 'neutral', weight: 0, detail: 'no volatility estimate for a stop: staying flat' });
    direction = 'flat';
  }
  if (direction === 'flat' || atr === null) return flat();

  const ema200 = input.indicators.ema200;
  if (options.trendGate && ema200 !== null && (direction === 'long' ? entry < ema200 : entry > ema200)) {
    if (explain) reasons.push({ indicator: 'trend_gate', vote: 'neutral', weight: 0, detail: `a ${direction} against the EMA200 regime: staying flat` });
    return flat();
  }
  const stopAtr = options.stopAtr ?? 1.5;
  const takeProfitAtr = options.takeProfitAtr ?? 3;
  if (options.minMoveFees && ((takeProfitAtr * atr) / entry) * 100 < options.minMoveFees * 2 * (options.feePct ?? 0.1)) {
    if (explain) reasons.push({ indicator: 'fee_hurdle', vote: 'neutral', weight: 0, detail: `a ${fmt(((takeProfitAtr * atr) / entry) * 100)} % target does not clear ${options.minMoveFees}× the round-trip fee: staying flat` });
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
    if (explain) {
      reasons.push({
        indicator: 'liq_cluster',
        vote: direction,
        weight: 0,
        detail: `take-profit at ${direction === 'long' ? 'short' : 'long'}-liquidation band ${fmt(target.cluster.priceLow)}–${fmt(target.cluster.priceHigh)} (strength ${target.cluster.strength.toFixed(2)}, ${target.cluster.source})`,
      });
    }
  }
  const score = scoreOf(input.timeframe, vote);
  if (explain) {
    reasons.push({
      indicator: 'score',
      vote: direction,
      weight: 0,
      detail: `score ${score}: ${score} of 100 past ${input.timeframe === '1d' ? 'daily' : 'intraday'} calls with agreement ${vote} or near it closed in profit after fees`,
    });
  }
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
