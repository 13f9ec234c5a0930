/**
 * Honest evaluation of signals (freqtrade / Jesse conventions):
 *  - entry at the OPEN of the candle after the signal candle (the signal is
 *    only known once its candle has closed);
 *  - from that candle on, the first candle whose range reaches the
 *    take-profit wins, the stop loses; a candle reaching both is a loss
 *    (we cannot know the order inside a candle, so assume the worst);
 *  - a candle that OPENS beyond a level exits at its open (a gap fills at
 *    the open, not at the level);
 *  - neither within `horizonCandles` candles: exit at the close of the last
 *    one (the entry candle counts as the first);
 *  - win = positive net return (so a take-profit hit is a win unless fees
 *    exceed the move, and a horizon exit is judged by its sign);
 *  - fees (feePct per side, % of notional) on entry and exit;
 *  - null while not enough candles exist to decide.
 */
import { AppError } from '../../common/errors';
import type { Candle, SignalOutcome, WinRateRollup } from '../domain';

export interface EvaluatedSignal {
  direction: 'long' | 'short';
  entry: number;
  stop: number;
  takeProfit: number;
  /** Open time of the signal candle. */
  candleTime: number;
}

export interface EvaluateOptions {
  horizonCandles: number;
  /** Fee per side as a percentage of notional (0.1 = 0.1 %). */
  feePct: number;
}

export function evaluateSignal(signal: EvaluatedSignal, candlesAfter: readonly Candle[], options: EvaluateOptions): SignalOutcome | null {
  const { direction, stop, takeProfit } = signal;
  const long = direction === 'long';
  if (long ? !(stop < takeProfit) : !(stop > takeProfit)) {
    throw new AppError('bad_request', `a ${direction} signal needs its stop ${long ? 'below' : 'above'} its take-profit`);
  }
  const horizon = Math.max(1, Math.floor(options.horizonCandles));
  const fee = options.feePct / 100;
  // Only what happened after the signal candle counts, in time order.
  const after = candlesAfter.filter((c) => c.openTime > signal.candleTime).sort((a, b) => a.openTime - b.openTime);
  const first = after[0];
  if (!first) return null;
  const entryPrice = first.open;

  const net = (exit: number): number =>
    ((long ? exit * (1 - fee) - entryPrice * (1 + fee) : entryPrice * (1 - fee) - exit * (1 + fee)) / entryPrice) * 100;
  const done = (exitPrice: number, exitReason: SignalOutcome['exitReason'], exitTime: number): SignalOutcome => {
    const returnPct = net(exitPrice);
    // Judged by net profit, as freqtrade does: a take-profit is a win unless fees ate the move.
    return { outcome: returnPct > 0 ? 'win' : 'loss', exitReason, returnPct, exitTime };
  };

  const n = Math.min(horizon, after.length);
  for (let i = 0; i < n; i++) {
    const c = after[i]!;
    const hitStop = long ? c.low <= stop : c.high >= stop;
    const hitTp = long ? c.high >= takeProfit : c.low <= takeProfit;
    if (hitStop) {
      // Gapped through the stop: filled at the open. Both levels in one candle: stop (pessimistic).
      const gapped = long ? c.open <= stop : c.open >= stop;
      return done(gapped ? c.open : stop, 'stop', c.openTime);
    }
    if (hitTp) {
      const gapped = long ? c.open >= takeProfit : c.open <= takeProfit;
      return done(gapped ? c.open : takeProfit, 'take_profit', c.openTime);
    }
  }
  if (after.length < horizon) return null;
  const lastCandle = after[horizon - 1]!;
  return done(lastCandle.close, 'horizon', lastCandle.openTime);
}

const WINDOW_MS: Record<WinRateRollup['window'], number> = {
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
  all: Number.POSITIVE_INFINITY,
};

/**
 * Aggregates outcomes of signals whose candle falls in the window ending at
 * `now`. winPct = wins / trades; avgLossPct is the mean of the (negative)
 * losing returns; profitFactor = gross profit / gross loss (null without
 * losses: undefined, not infinite); expectancyPct = mean net return per trade
 * (= W·avgWin + L·avgLoss); buyHoldPct is the market change over the window
 * for comparison.
 */
export function rollupWinRate(
  outcomes: ReadonlyArray<SignalOutcome & { candleTime: number }>,
  window: WinRateRollup['window'],
  now: number,
  buyHold: { startPrice: number; endPrice: number } | null,
): WinRateRollup {
  const since = now - WINDOW_MS[window];
  const inWindow = outcomes.filter((o) => o.candleTime >= since && o.candleTime <= now);
  const wins = inWindow.filter((o) => o.outcome === 'win');
  const losses = inWindow.filter((o) => o.outcome === 'loss');
  const sum = (xs: ReadonlyArray<{ returnPct: number }>) => xs.reduce((a, o) => a + o.returnPct, 0);
  const grossProfit = inWindow.filter((o) => o.returnPct > 0).reduce((a, o) => a + o.returnPct, 0);
  const grossLoss = -inWindow.filter((o) => o.returnPct < 0).reduce((a, o) => a + o.returnPct, 0);
  const trades = inWindow.length;
  return {
    window,
    trades,
    wins: wins.length,
    losses: losses.length,
    winPct: trades > 0 ? (wins.length / trades) * 100 : null,
    avgWinPct: wins.length > 0 ? sum(wins) / wins.length : null,
    avgLossPct: losses.length > 0 ? sum(losses) / losses.length : null,
    profitFactor: grossLoss > 0 ? grossProfit / grossLoss : null,
    expectancyPct: trades > 0 ? sum(inWindow) / trades : null,
    buyHoldPct: buyHold && buyHold.startPrice > 0 ? ((buyHold.endPrice - buyHold.startPrice) / buyHold.startPrice) * 100 : null,
  };
}
