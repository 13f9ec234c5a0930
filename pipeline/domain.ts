/**
 * The pipeline's domain types: what market sources return and what each
 * compute step produces. Pure data; stored by pipeline/storage, computed by
 * the pure functions in pipeline/{indicators,risk,liquidations,signals,track-record}.
 */
import type { Timeframe } from '../common/symbols';

export interface Candle {
  /** Open time, epoch milliseconds (UTC). */
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Exactly 21 named indicator values for one closed candle; null while warming up (units: indicators/compute-indicators.ts). */
export type IndicatorValues = Record<IndicatorName, number | null>;

export const INDICATOR_NAMES = [
  'rsi14',
  'macd',
  'macd_signal',
  'macd_hist',
  'ema20',
  'ema50',
  'ema200',
  'sma20',
  'bb_percent_b',
  'bb_width',
  'atr14',
  'adx14',
  'stoch_k',
  'stoch_rsi',
  'cci20',
  'mfi14',
  'obv_slope',
  'williams_r',
  'roc12',
  'psar',
  'ao',
] as const;
export type IndicatorName = (typeof INDICATOR_NAMES)[number];

export type VolatilityRegime = 'low' | 'normal' | 'high' | 'extreme';

export interface RiskMetric {
  /** Annualised realised volatility of log returns, as a fraction (0.65 = 65 %). */
  realizedVol: number;
  /** ATR(14) as a percentage of the last close (1.5 = 1.5 %). */
  atrPct: number;
  /** Percentage below the highest high of the last 100 candles (>= 0). */
  drawdownPct: number;
  /** Z-score of the last volume against the 20 before it. */
  volumeZ: number;
  /** From realizedVol: < 0.35 low, < 0.8 normal, < 1.5 high, else extreme (see risk/compute-risk.ts). */
  regime: VolatilityRegime;
}

export interface LiqCluster {
  side: 'long' | 'short';
  priceLow: number;
  priceHigh: number;
  /** Relative strength 0..1 (1 = strongest band). */
  strength: number;
  source: 'kingfisher' | 'estimated';
}

export type Direction = 'long' | 'short' | 'flat';

export interface SignalReason {
  indicator: string;
  vote: 'long' | 'short' | 'neutral';
  weight: number;
  detail: string;
}

export interface SignalDecision {
  direction: Direction;
  /** Indicator agreement 0–100 (strategy.ts); decides whether there is a call. */
  vote: number;
  /** What the trader reads: % of past calls like this one that closed in profit after fees (score-calibration.ts); 0 when flat. */
  score: number;
  entry: number;
  stop: number | null;
  takeProfit: number | null;
  reasons: SignalReason[];
}

export interface DoublingDecision {
  recommended: boolean;
  /** The first guardrail that blocked doubling, or null when recommended / not applicable. */
  blockedBy: 'not_same_direction' | 'score_delta' | 'volatility' | 'cooldown' | 'max_position' | null;
  detail: string;
  /** The position (% of equity) the recommendation stands for after this signal: doubled when recommended. */
  positionPct?: number;
}

export interface WatchKey {
  symbol: string;
  timeframe: Timeframe;
}

/** One string per watcher, for maps and keys kept per watcher. */
export const watchKeyId = (key: WatchKey) => `${key.symbol}|${key.timeframe}`;
