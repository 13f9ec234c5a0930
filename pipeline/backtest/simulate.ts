/**
 * Walk-forward simulation of a trader who follows the signals: what would
 * they have held, and what did it earn? Pure: candles and the decisions in,
 * trades and a per-candle equity curve out.
 *
 * `decisions[i]` is the decision taken at the CLOSE of candle i from candles
 * 0..i only (see signal-series.ts). The rules, one position per series:
 *  - a position opens at the OPEN of the candle after its signal, on the
 *    first signal of a run: a run of identical consecutive calls is one
 *    position, never one trade per candle (the product repeats a call for
 *    several candles; counting each as a trade overstated the sample ~5×);
 *  - it closes at its stop or take-profit inside a candle (a candle that
 *    reaches both closes at the stop: the order inside a candle is unknown,
 *    so assume the worst; a candle that opens beyond a level fills at the open),
 *    at the close of its `horizonCandles`-th candle (the entry candle counts),
 *    or at the next open after an opposite call, which also opens the
 *    reverse position; a flat call leaves the position to its levels;
 *  - a position still open when the data ends is closed at the last close
 *    (exit reason `end`) so the equity curve and the trade list agree;
 *  - fees (feePct per side, % of notional) on entry and exit; each trade
 *    compounds the whole equity (no leverage, no sizing).
 */
import type { Candle, Direction } from '../domain';

export interface TradeSignal {
  direction: Direction;
  /** The score shown with the call (calibrated, strategy.ts). */
  score: number;
  /** The raw indicator agreement behind it, where known (the score's calibration is fitted on it). */
  vote?: number;
  stop: number | null;
  takeProfit: number | null;
}

export interface SimulateOptions {
  /** Fee per side as a percentage of notional (0.1 = 0.1 %). */
  feePct: number;
  /** Most candles a position is held; the entry candle counts as the first. */
  horizonCandles: number;
  /** First candle whose signal may open a position (the end of the indicators' warm-up). */
  from?: number;
}

export type ExitReason = 'stop' | 'take_profit' | 'signal' | 'horizon' | 'end';

export interface Trade {
  direction: 'long' | 'short';
  score: number;
  /** The raw vote of the signal, or its score where the vote is unknown (stored signals). */
  vote: number;
  /** The candle whose close produced the signal. */
  signalIndex: number;
  entryIndex: number;
  entryTime: number;
  entryPrice: number;
  stop: number;
  takeProfit: number;
  exitIndex: number;
  exitTime: number;
  exitPrice: number;
  exitReason: ExitReason;
  /** Net of fees on both sides, % of the entry price (1.5 = +1.5 %). */
  returnPct: number;
}

export interface Simulation {
  trades: Trade[];
  /** Equity (1 = start) at each candle's close, open positions marked at the close net of both fees. */
  equity: number[];
}

type Side = 'long' | 'short';
interface Open {
  direction: Side;
  score: number;
  vote: number;
  signalIndex: number;
  entryIndex: number;
  entryPrice: number;
  stop: number;
  takeProfit: number;
}

/** Net return (%) of a position from entry to exit, fees on both sides. */
export function netReturnPct(direction: Side, entry: number, exit: number, feePct: number): number {
  const f = feePct / 100;
  const pnl = direction === 'long' ? exit * (1 - f) - entry * (1 + f) : entry * (1 - f) - exit * (1 + f);
  return (pnl / entry) * 100;
}

/** Levels are usable when the stop sits on the losing side and the take-profit on the winning side. */
export function validLevels(direction: Side, stop: number | null, takeProfit: number | null): boolean {
  if (stop === null || takeProfit === null || !Number.isFinite(stop) || !Number.isFinite(takeProfit)) return false;
  return direction === 'long' ? stop < takeProfit : stop > takeProfit;
}

/**
 * Did this candle reach the stop or the take-profit? Stop first when it
 * reached both (pessimistic); a level the candle opened beyond fills at the open.
 */
export function levelHit(direction: Side, stop: number, takeProfit: number, c: Candle): { price: number; reason: 'stop' | 'take_profit' } | null {
  const long = direction === 'long';
  if (long ? c.low <= stop : c.high >= stop) {
    return { price: (long ? c.open <= stop : c.open >= stop) ? c.open : stop, reason: 'stop' };
  }
  if (long ? c.high >= takeProfit : c.low <= takeProfit) {
    return { price: (long ? c.open >= takeProfit : c.open <= takeProfit) ? c.open : takeProfit, reason: 'take_profit' };
  }
  return null;
}

export function simulateTrades(candles: readonly Candle[], decisions: readonly TradeSignal[], options: SimulateOptions): Simulation {
  if (decisions.length !== candles.length) throw new Error(`simulateTrades: ${decisions.length} decisions for ${candles.length} candles`);
  const horizon = Math.max(1, Math.floor(options.horizonCandles));
  const from = Math.max(0, options.from ?? 0);
  const trades: Trade[] = [];
  const equity: number[] = [];
  let realized = 1;
  let pos: Open | null = null;
  let pendingExit = false;
  let pendingEntry: (TradeSignal & { direction: Side; signalIndex: number }) | null = null;
  let previousCall: Direction = 'flat';

  const close = (p: Open, index: number, price: number, reason: ExitReason) => {
    const returnPct = netReturnPct(p.direction, p.entryPrice, price, options.feePct);
    const c = candles[index]!;
    trades.push({
      direction: p.direction,
      score: p.score,
      vote: p.vote,
      signalIndex: p.signalIndex,
      entryIndex: p.entryIndex,
      entryTime: candles[p.entryIndex]!.openTime,
      entryPrice: p.entryPrice,
      stop: p.stop,
      takeProfit: p.takeProfit,
      exitIndex: index,
      exitTime: c.openTime,
      exitPrice: price,
      exitReason: reason,
      returnPct,
    });
    realized *= 1 + returnPct / 100;
    pos = null;
  };

  for (let i = 0; i < candles.length; i++) {
    const c = candles[i]!;
    // At the open: act on what the previous close decided.
    if (pendingExit && pos) close(pos, i, c.open, 'signal');
    pendingExit = false;
    if (pendingEntry) {
      const e = pendingEntry;
      pos = { direction: e.direction, score: e.score, vote: e.vote ?? e.score, signalIndex: e.signalIndex, entryIndex: i, entryPrice: c.open, stop: e.stop!, takeProfit: e.takeProfit! };
      pendingEntry = null;
    }
    // Inside the candle: the levels.
    if (pos) {
      const hit = levelHit(pos.direction, pos.stop, pos.takeProfit, c);
      if (hit) close(pos, i, hit.price, hit.reason);
    }
    // At the close: the horizon, then the new call (acted on at the next open).
    const held = pos as Open | null;
    if (held && i - held.entryIndex + 1 >= horizon) close(held, i, c.close, 'horizon');
    const d = decisions[i]!;
    const call: Direction = i >= from && i + 1 < candles.length ? d.direction : 'flat';
    const open = pos as Open | null;
    if (call !== 'flat') {
      const enter = validLevels(call, d.stop, d.takeProfit) ? { ...d, direction: call, signalIndex: i } : null;
      if (open && open.direction !== call) {
        pendingExit = true;
        pendingEntry = enter;
      } else if (!open && call !== previousCall) {
        pendingEntry = enter;
      }
    }
    previousCall = d.direction;
    const mark = pos as Open | null;
    equity.push(mark ? realized * (1 + netReturnPct(mark.direction, mark.entryPrice, c.close, options.feePct) / 100) : realized);
  }
  const last = pos as Open | null;
  if (last) {
    const lastIndex = candles.length - 1;
    close(last, lastIndex, candles[lastIndex]!.close, 'end');
  }
  return { trades, equity };
}
