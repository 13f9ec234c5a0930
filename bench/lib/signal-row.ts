import type { SignalRow } from '../../common/events';

/**
 * The signal the push benches send, and the row bench/push.ts inserts: as the
 * server pushes it (server/signals/signals.queries.ts), so every bench frames
 * the same bytes.
 */
export function benchSignalRow(row: { id: number; symbol: string; candleTime: string }): SignalRow {
  return {
    ...row,
    timeframe: '1m',
    direction: 'long',
    score: 72,
    entry: 100,
    stop: 97,
    takeProfit: 106,
    reasons: [{ indicator: 'rsi14', vote: 'long', weight: 1.5, detail: 'rsi14 28 (≤ 30, oversold)' }],
    doubling: null,
    edge: null,
    createdAt: new Date().toISOString(),
  };
}
