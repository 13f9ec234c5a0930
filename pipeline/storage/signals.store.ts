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

  /**
   * `insert` of many signals in one statement; each gets its id, or null
   * when its candle had one already. Rows are inserted (and their ids drawn)
   * in the order given.
   */
  insertMany: async (
    q: Queryable,
    items: ReadonlyArray<{ key: WatchKey; candleTime: number; decision: SignalDecision; doubling: DoublingDecision | null; edge: EdgeFacts | null }>,
  ): Promise<Array<number | null>> => {
    const rows = items.map(({ key, candleTime, decision, doubling, edge }, i) => ({
      i,
      symbol: key.symbol,
      timeframe: key.timeframe,
      t: candleTime,
      direction: decision.direction,
      score: Math.round(decision.score),
      entry: decision.entry,
      stop: decision.stop,
      take_profit: decision.takeProfit,
      reasons: decision.reasons,
      // Absent, not JSON null: json_to_recordset turns a JSON null into a jsonb 'null', not SQL NULL.
      doubling: doubling ?? undefined,
      edge: edge ?? undefined,
    }));
    const { rows: inserted } = await q.query<{ symbol: string; timeframe: string; t: number; id: number }>(
      `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons, doubling, edge)
       select u.symbol, u.timeframe, timestamptz 'epoch' + u.t * interval '1 millisecond', u.direction, u.score, u.entry, u.stop,
         u.take_profit, u.reasons, u.doubling, u.edge
       from json_to_recordset($1::json) as u(i int, symbol text, timeframe text, t float8, direction text, score int, entry float8,
         stop float8, take_profit float8, reasons jsonb, doubling jsonb, edge jsonb)
       order by u.i
       on conflict (symbol, timeframe, candle_time) do nothing
       returning symbol, timeframe, (extract(epoch from candle_time) * 1000)::float8 as t, id`,
      [JSON.stringify(rows)],
    );
    const ids = new Map(inserted.map((r) => [`${r.symbol}|${r.timeframe}|${r.t}`, r.id]));
    return items.map(({ key, candleTime }) => ids.get(`${key.symbol}|${key.timeframe}|${candleTime}`) ?? null);
  },
};
