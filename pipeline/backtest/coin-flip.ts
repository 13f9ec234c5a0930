/**
 * The chance baseline: would a coin have done as well? Each draw replays the
 * strategy's trades with the same entry candle, the same stop and take-profit
 * distances and the same latest exit, but a random direction; same fees. The
 * strategy's percentile among the draws says whether its directions carry
 * information beyond the fee drag, which both sides pay alike.
 *
 * The coin is weighted like the strategy: P(long) = its share of longs. A fair
 * coin would go short half the time in a bull market, so any long-leaning
 * strategy would "beat chance" on the drift alone (on BTC 1h 2024 a fair coin
 * put the old strategy at the 98th percentile with a negative expectancy);
 * the drift is what buy-and-hold measures. Pass `longShare: 0.5` for a fair coin.
 *
 * Deterministic for a seed (mulberry32), so a report can be reproduced.
 */
import type { EdgeVerdict } from '../../common/edge';
import type { Candle } from '../domain';
import { levelHit, netReturnPct, type Trade } from './simulate';

export interface CoinFlipOptions {
  feePct: number;
  /** At least 200 for a stable 5th/95th percentile. */
  draws?: number;
  seed?: number;
  /** Probability of a long per trade; the strategy's own share of longs by default. */
  longShare?: number;
}

export interface CoinFlipSummary {
  draws: number;
  seed: number;
  medianExpectancyPct: number | null;
  p5: number | null;
  p95: number | null;
  /** Share of draws (ties count half) whose expectancy is below the strategy's, 0..100. */
  percentile: number | null;
  longShare: number | null;
}

export const DEFAULT_DRAWS = 500;
export const DEFAULT_SEED = 20_240_101;

/**
 * mulberry32: a 32-bit seeded generator, uniform on [0, 1). Five lines of a
 * published algorithm are cheaper than a dependency for reproducible draws;
 * it is not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One strategy trade replayed in `direction`, levels mirrored around the signal close when flipped. */
export function replayTrade(candles: readonly Candle[], trade: Trade, direction: 'long' | 'short', feePct: number): number {
  let { stop, takeProfit } = trade;
  if (direction !== trade.direction) {
    const ref = candles[trade.signalIndex]!.close;
    stop = 2 * ref - stop;
    takeProfit = 2 * ref - takeProfit;
  }
  for (let i = trade.entryIndex; i <= trade.exitIndex; i++) {
    const hit = levelHit(direction, stop, takeProfit, candles[i]!);
    // The strategy left at the exit candle's open on a signal: the replay may not stay longer.
    if (i === trade.exitIndex && trade.exitReason === 'signal') break;
    if (hit) return netReturnPct(direction, trade.entryPrice, hit.price, feePct);
  }
  // Out at the same time as the strategy, at a market price (not the strategy's own level).
  const last = candles[trade.exitIndex]!;
  return netReturnPct(direction, trade.entryPrice, trade.exitReason === 'signal' ? last.open : last.close, feePct);
}

/** Linear-interpolated quantile (q in 0..1) of sorted values. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export function percentileOf(value: number, draws: readonly number[]): number {
  let below = 0;
  let ties = 0;
  for (const d of draws) {
    if (d < value) below++;
    else if (d === value) ties++;
  }
  return ((below + ties / 2) / draws.length) * 100;
}

export function coinFlipBaseline(candles: readonly Candle[], trades: readonly Trade[], options: CoinFlipOptions): CoinFlipSummary {
  const draws = Math.max(1, Math.floor(options.draws ?? DEFAULT_DRAWS));
  const seed = options.seed ?? DEFAULT_SEED;
  if (trades.length === 0) return { draws, seed, medianExpectancyPct: null, p5: null, p95: null, percentile: null, longShare: null };
  const random = seededRandom(seed);
  const longShare = options.longShare ?? trades.filter((t) => t.direction === 'long').length / trades.length;
  // Both outcomes of every trade are computed once; a draw only picks one of each pair.
  const outcomes = trades.map((t) => ({
    long: replayTrade(candles, t, 'long', options.feePct),
    short: replayTrade(candles, t, 'short', options.feePct),
  }));
  const expectancies: number[] = [];
  for (let d = 0; d < draws; d++) {
    let sum = 0;
    for (const o of outcomes) sum += random() < longShare ? o.long : o.short;
    expectancies.push(sum / trades.length);
  }
  const strategy = trades.reduce((a, t) => a + t.returnPct, 0) / trades.length;
  const sorted = [...expectancies].sort((a, b) => a - b);
  return {
    draws,
    seed,
    medianExpectancyPct: quantile(sorted, 0.5),
    p5: quantile(sorted, 0.05),
    p95: quantile(sorted, 0.95),
    percentile: percentileOf(strategy, expectancies),
    longShare,
  };
}

/** The verdict the product shows (common/edge.ts). */
export type Edge = EdgeVerdict;

/** Fewer independent trades than this say nothing either way. */
export const EDGE_MIN_TRADES = 30;

/**
 * The verdict a trader reads, a one-sided 5 % test against chance:
 *  - positive: ≥ EDGE_MIN_TRADES trades, above the 95th percentile of the
 *    coin flips AND a positive expectancy after fees (beating chance while
 *    still losing money is no edge to trade);
 *  - negative: ≥ EDGE_MIN_TRADES trades and below the 5th percentile (the
 *    directions are worse than random);
 *  - none: everything else, including too few trades.
 */
export function edgeOf(input: { trades: number; expectancyPct: number | null; percentile: number | null }): Edge {
  const { trades, expectancyPct, percentile } = input;
  if (trades < EDGE_MIN_TRADES || percentile === null || expectancyPct === null) return 'none';
  if (percentile >= 95 && expectancyPct > 0) return 'positive';
  if (percentile <= 5) return 'negative';
  return 'none';
}
