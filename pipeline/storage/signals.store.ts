import type { Queryable } from '../../common/db';
import type { EdgeFacts } from '../../common/edge';
import type { DoublingDecision, SignalDecision, WatchKey } from '../domain';

export const signalStore = {
  /**
   * Inserts once per candle (`on conflict do nothing` on symbol+timeframe+
   * candle_time): a retried or duplicated job gets null back and changes
   * nothing. The insert trigger notifies the web servers (sql/trading/0003).
   */
  insert: async (
    q: Queryable,
    key: WatchKey,
    candleTime: number,
    decision: SignalDecision,
    doubling: DoublingDecision | null,
    edge: EdgeFacts | null = null,
  ): Promise<number | null> => {
    const { rows } = await q.query<{ id: number }>(
      `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons, doubling, edge)
       values ($1, $2, timestamptz 'epoch' + $3::float8 * interval '1 millisecond', $4, $5, $6, $7, $8, $9, $10, $11)
       on conflict (symbol, timeframe, candle_time) do nothing
       returning id`,
      [
        key.symbol,
        key.timeframe,
        candleTime,
        decision.direction,
        Math.round(decision.score),
        decision.entry,
        decision.stop,
        decision.takeProfit,
        JSON.stringify(decision.reasons),
        doubling ? JSON.stringify(doubling) : null,
        edge ? JSON.stringify(edge) : null,
      ],
    );
    return rows[0]?.id ?? null;
  },
};
