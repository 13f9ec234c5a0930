/**
 * What a list of trades is worth, in the conventions of freqtrade / Jesse
 * (docs: shared REFERENCE "Evaluating signals"): a win is a positive net
 * return; win rate with its 95 % Wilson interval (honest for small samples,
 * never outside 0..100 %); profit factor = gross profit / gross loss (null
 * without losses: undefined, not infinite); expectancy = mean net return per
 * trade; drawdown on the equity curve. Percentages throughout (55 = 55 %).
 */
import type { Candle } from '../domain';
import { netReturnPct, type ExitReason, type Trade } from './simulate';

/** Two-sided 95 % normal quantile. */
const Z95 = 1.959963984540054;

/** Wilson score interval of `wins` out of `trades`, as fractions; null without trades. */
export function wilsonInterval(wins: number, trades: number, z = Z95): { low: number; high: number } | null {
  if (trades <= 0) return null;
  const p = wins / trades;
  const z2 = z * z;
  const denominator = 1 + z2 / trades;
  const centre = (p + z2 / (2 * trades)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / trades + z2 / (4 * trades * trades));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface TradeStats {
  trades: number;
  wins: number;
  longs: number;
  shorts: number;
  /** Percentages; null without trades. */
  winRate: number | null;
  winRateLow: number | null;
  winRateHigh: number | null;
  profitFactor: number | null;
  expectancyPct: number | null;
  avgWinPct: number | null;
  avgLossPct: number | null;
  exitReasons: Record<ExitReason, number>;
}

export function tradeStats(trades: readonly Pick<Trade, 'direction' | 'returnPct' | 'exitReason'>[]): TradeStats {
  const n = trades.length;
  const wins = trades.filter((t) => t.returnPct > 0);
  const losses = trades.filter((t) => t.returnPct <= 0);
  const sum = (xs: readonly { returnPct: number }[]) => xs.reduce((a, t) => a + t.returnPct, 0);
  const grossProfit = sum(wins);
  const grossLoss = -sum(losses);
  const interval = wilsonInterval(wins.length, n);
  const exitReasons: Record<ExitReason, number> = { stop: 0, take_profit: 0, signal: 0, horizon: 0, end: 0 };
  for (const t of trades) exitReasons[t.exitReason]++;
  return {
    trades: n,
    wins: wins.length,
    longs: trades.filter((t) => t.direction === 'long').length,
    shorts: trades.filter((t) => t.direction === 'short').length,
    winRate: n > 0 ? (wins.length / n) * 100 : null,
    winRateLow: interval ? interval.low * 100 : null,
    winRateHigh: interval ? interval.high * 100 : null,
    profitFactor: grossLoss > 0 ? grossProfit / grossLoss : null,
    expectancyPct: n > 0 ? sum(trades) / n : null,
    avgWinPct: wins.length > 0 ? grossProfit / wins.length : null,
    avgLossPct: losses.length > 0 ? -grossLoss / losses.length : null,
    exitReasons,
  };
}

/** Deepest fall from a running peak of an equity curve, as a positive percentage. */
export function maxDrawdownPct(equity: readonly number[]): number {
  let peak = Number.NEGATIVE_INFINITY;
  let worst = 0;
  for (const e of equity) {
    peak = Math.max(peak, e);
    if (peak > 0) worst = Math.max(worst, (1 - e / peak) * 100);
  }
  return worst;
}

/** Running drawdown (positive %) at each point of an equity curve, for the report. */
export function drawdownSeries(equity: readonly number[]): number[] {
  let peak = Number.NEGATIVE_INFINITY;
  return equity.map((e) => {
    peak = Math.max(peak, e);
    return peak > 0 ? (1 - e / peak) * 100 : 0;
  });
}

export interface BuyHold {
  returnPct: number;
  maxDrawdownPct: number;
  /** Equity (1 = start) at each candle's close; 1 before the entry. */
  equity: number[];
}

/**
 * Holding over the same window the strategy could trade: bought at the open
 * after the first candle allowed to signal (`from`), sold at the last close,
 * with the same fee on both sides.
 */
export function buyAndHold(candles: readonly Candle[], from: number, feePct: number): BuyHold {
  const entryIndex = Math.min(from + 1, candles.length - 1);
  const entry = candles[entryIndex]?.open ?? Number.NaN;
  const equity = candles.map((c, i) => (i < entryIndex ? 1 : 1 + netReturnPct('long', entry, c.close, feePct) / 100));
  return { returnPct: ((equity.at(-1) ?? 1) - 1) * 100, maxDrawdownPct: maxDrawdownPct(equity), equity };
}

export interface ReliabilityRow {
  /** The score shown with the calls (calibrated: the win rate, %, that calls like them had in the measured record). */
  score: number;
  trades: number;
  winRate: number;
  /** 95 % Wilson interval of the win rate. */
  winRateLow: number;
  winRateHigh: number;
  expectancyPct: number;
}

/**
 * Score → trades, win rate with its Wilson interval, expectancy: did the
 * calls shown with a higher score do better, and did they win about as often
 * as their score says? One row per score shown (the calibrated score takes a
 * few values, one per step of its fit).
 */
export function reliabilityTable(trades: readonly Pick<Trade, 'score' | 'returnPct'>[]): ReliabilityRow[] {
  const bands = new Map<number, number[]>();
  for (const t of trades) {
    const score = Math.round(t.score);
    const list = bands.get(score) ?? [];
    list.push(t.returnPct);
    bands.set(score, list);
  }
  return [...bands.entries()]
    .sort(([a], [b]) => a - b)
    .map(([score, returns]) => {
      const wins = returns.filter((r) => r > 0).length;
      const w = wilsonInterval(wins, returns.length)!;
      return {
        score,
        trades: returns.length,
        winRate: (100 * wins) / returns.length,
        winRateLow: 100 * w.low,
        winRateHigh: 100 * w.high,
        expectancyPct: returns.reduce((a, r) => a + r, 0) / returns.length,
      };
    });
}

/**
 * Monotone within its interval: no row did significantly worse than a row
 * of lower score, i.e. every row's Wilson upper bound reaches the win rate
 * of every row below it (a strict order of point estimates would fail on
 * noise alone).
 */
export function monotoneWithinInterval(rows: readonly ReliabilityRow[]): boolean {
  return rows.every((b, j) => rows.slice(0, j).every((a) => b.winRateHigh >= a.winRate));
}
