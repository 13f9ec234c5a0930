/**
 * The score a trader reads, calibrated: the share of past calls with the same
 * indicator agreement (the raw vote of strategy.ts) that closed in profit
 * after fees. "55" means 55 of 100 such calls won.
 *
 * Fit: isotonic regression (pool-adjacent-violators, weighted by trades) of
 * win/loss on the vote, so a higher vote never maps to a lower win rate; then
 * adjacent blocks are pooled until each holds at least MIN_BLOCK_TRADES
 * trades, because a band of 8 trades says nothing (the uncalibrated bands
 * jumped −0.27 % → +0.26 % a trade on 14 trades), and neighbours whose win
 * rates do not differ significantly are pooled too. Pooling neighbours of a
 * non-decreasing sequence keeps it non-decreasing.
 *
 * Where the vote carries no information out of sample, the fit pools
 * everything into one block and the score is simply the win rate of all
 * calls on that kind of timeframe: the honest answer. docs/STRATEGY.md shows
 * the out-of-sample check (fit on the earlier half of every file, read on the
 * later half) that decides whether that is so.
 *
 * No npm package implements isotonic regression (checked the registry list);
 * PAVA is the textbook 20 lines.
 */
import type { Timeframe } from '../../common/symbols';
import { reliabilityTable, type ReliabilityRow } from '../backtest/metrics';
import { SCORE_CALIBRATION } from './score-calibration.table';

const Z95 = 1.959963984540054;

/** Fewer trades than this in a block of the fit are pooled with a neighbour. */
export const MIN_BLOCK_TRADES = 30;

/** One step of the mapping: votes from `vote` up (to the next step) won `winPct` % of `trades` calls. */
export interface CalibrationStep {
  vote: number;
  trades: number;
  wins: number;
  winPct: number;
}

/** Timeframes whose fee-to-move ratio is alike share a calibration: a 1h call pays the same 0.2 % for a ~5× smaller move. */
export type CalibrationGroup = 'intraday' | 'daily';

export function calibrationGroup(timeframe: Timeframe): CalibrationGroup {
  return timeframe === '1d' ? 'daily' : 'intraday';
}

export interface CalibrationSample {
  /** Raw vote (agreement) of the call, 0–100. */
  vote: number;
  /** Net return of the trade after fees, %. */
  returnPct: number;
}

/** Isotonic (non-decreasing) fit of win rate on vote, blocks of at least `minBlock` trades. Empty without samples. */
export function fitCalibration(samples: readonly CalibrationSample[], minBlock = MIN_BLOCK_TRADES): CalibrationStep[] {
  // One block per distinct rounded vote, in vote order.
  const byVote = new Map<number, { trades: number; wins: number }>();
  for (const s of samples) {
    const v = Math.round(s.vote);
    const b = byVote.get(v) ?? { trades: 0, wins: 0 };
    b.trades++;
    if (s.returnPct > 0) b.wins++;
    byVote.set(v, b);
  }
  type Block = { vote: number; trades: number; wins: number };
  const rate = (b: Block) => b.wins / b.trades;
  const merge = (a: Block, b: Block): Block => ({ vote: Math.min(a.vote, b.vote), trades: a.trades + b.trades, wins: a.wins + b.wins });
  // Pool adjacent violators.
  const stack: Block[] = [];
  for (const [vote, b] of [...byVote.entries()].sort(([a], [b]) => a - b)) {
    let block: Block = { vote, ...b };
    while (stack.length && rate(stack.at(-1)!) >= rate(block)) block = merge(stack.pop()!, block);
    stack.push(block);
  }
  // Pool small blocks with the neighbour nearest in win rate (either keeps the order).
  for (;;) {
    const k = stack.findIndex((b) => b.trades < minBlock);
    if (k === -1 || stack.length === 1) break;
    const left = k > 0 ? stack[k - 1]! : null;
    const right = k < stack.length - 1 ? stack[k + 1]! : null;
    const withLeft = left !== null && (right === null || rate(stack[k]!) - rate(left) <= rate(right) - rate(stack[k]!));
    if (withLeft) stack.splice(k - 1, 2, merge(left, stack[k]!));
    else stack.splice(k, 2, merge(stack[k]!, right!));
  }
  // A step must be one the data can tell apart: pool the closest neighbours while their win rates
  // do not differ at the 5 % level (two-proportion z-test), so noise never reads as a better score.
  const z = (a: Block, b: Block) => {
    const p = (a.wins + b.wins) / (a.trades + b.trades);
    const se = Math.sqrt(p * (1 - p) * (1 / a.trades + 1 / b.trades));
    return se > 0 ? Math.abs(rate(b) - rate(a)) / se : 0;
  };
  while (stack.length > 1) {
    let k = 0;
    for (let j = 1; j < stack.length - 1; j++) if (z(stack[j]!, stack[j + 1]!) < z(stack[k]!, stack[k + 1]!)) k = j;
    if (z(stack[k]!, stack[k + 1]!) >= Z95) break;
    stack.splice(k, 2, merge(stack[k]!, stack[k + 1]!));
  }
  return stack.map((b) => ({ vote: b.vote, trades: b.trades, wins: b.wins, winPct: (100 * b.wins) / b.trades }));
}

/** The calibrated score of a vote: the win rate (%) of its step, rounded; votes below the first step take the first. */
export function calibratedScore(steps: readonly CalibrationStep[], vote: number): number {
  if (steps.length === 0) return Math.round(vote);
  let step = steps[0]!;
  for (const s of steps) if (vote >= s.vote) step = s;
  return Math.round(step.winPct);
}

/** The committed fit for a timeframe (score-calibration.table.ts, regenerated by scripts/strategy-table.ts --calibrate). */
export function scoreOf(timeframe: Timeframe, vote: number): number {
  return calibratedScore(SCORE_CALIBRATION[calibrationGroup(timeframe)], vote);
}

/**
 * The out-of-sample check: fit on the earlier trades only, score the later
 * trades with that fit, and group them by the score they would have shown.
 */
export function outOfSampleReliability(
  earlier: readonly CalibrationSample[],
  later: readonly CalibrationSample[],
  minBlock = MIN_BLOCK_TRADES,
): { fit: CalibrationStep[]; rows: ReliabilityRow[] } {
  const fit = fitCalibration(earlier, minBlock);
  return { fit, rows: reliabilityTable(later.map((t) => ({ score: calibratedScore(fit, t.vote), returnPct: t.returnPct }))) };
}

/** A walk-forward's trades split at the middle of its window: those closed before it, and those opened after it. */
export function splitAtMiddle<T extends { entryTime: number; exitTime: number }>(trades: readonly T[], from: number, to: number): { earlier: T[]; later: T[] } {
  const middle = (from + to) / 2;
  return { earlier: trades.filter((t) => t.exitTime < middle), later: trades.filter((t) => t.entryTime >= middle) };
}
