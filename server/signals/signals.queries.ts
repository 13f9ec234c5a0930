import type { EdgeFacts } from '../../common/edge';
import type { Queryable } from '../../common/db';
import type { SignalRow } from '../../common/events';

interface SignalRecord {
  id: number;
  symbol: string;
  timeframe: string;
  candle_time: Date;
  direction: SignalRow['direction'];
  score: number;
  entry: number;
  stop: number | null;
  take_profit: number | null;
  reasons: unknown;
  doubling: unknown;
  edge: EdgeFacts | null;
  created_at: Date;
}

const columns = 'id, symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons, doubling, edge, created_at';

function toSignalRow(r: SignalRecord): SignalRow {
  return {
    id: r.id,
    symbol: r.symbol,
    timeframe: r.timeframe,
    candleTime: r.candle_time.toISOString(),
    direction: r.direction,
    score: r.score,
    entry: r.entry,
    stop: r.stop,
    takeProfit: r.take_profit,
    reasons: r.reasons,
    doubling: r.doubling,
    edge: r.edge ?? null,
    createdAt: r.created_at.toISOString(),
  };
}

/** A `signals` row as the insert trigger's `row_to_json(new)` sends it in the NOTIFY payload. */
export function signalRowFromJson(r: Record<string, unknown>): SignalRow | null {
  if (typeof r.id !== 'number' || typeof r.symbol !== 'string' || typeof r.candle_time !== 'string' || typeof r.created_at !== 'string') return null;
  return {
    id: r.id,
    symbol: r.symbol,
    timeframe: String(r.timeframe),
    candleTime: new Date(r.candle_time).toISOString(),
    direction: r.direction as SignalRow['direction'],
    score: Number(r.score),
    entry: Number(r.entry),
    stop: typeof r.stop === 'number' ? r.stop : null,
    takeProfit: typeof r.take_profit === 'number' ? r.take_profit : null,
    reasons: r.reasons ?? [],
    doubling: r.doubling ?? null,
    edge: (r.edge as EdgeFacts | null | undefined) ?? null,
    createdAt: new Date(r.created_at).toISOString(),
  };
}

/** Trading database: the rows pushed to sockets, always in id order. */
export const signalQueries = {
  byIds: async (q: Queryable, ids: number[]): Promise<SignalRow[]> =>
    (await q.query<SignalRecord>(`select ${columns} from public.signals where id = any($1::bigint[]) order by id`, [ids])).rows.map(
      toSignalRow,
    ),

  /** Signals after `afterId`; when more than `limit` exist, the newest `limit` (a long-gone client wants the recent ones). */
  since: async (q: Queryable, symbols: string[], afterId: number, limit: number): Promise<SignalRow[]> =>
    (
      await q.query<SignalRecord>(
        `select * from (
           select ${columns} from public.signals
           where symbol = any($1::text[]) and id > $2
           order by id desc limit $3
         ) newest order by id`,
        [symbols, afterId, limit],
      )
    ).rows.map(toSignalRow),

  maxId: async (q: Queryable): Promise<number> =>
    (await q.query<{ max: number }>('select coalesce(max(id), 0)::bigint as max from public.signals')).rows[0]?.max ?? 0,
};

/** Chat database, run inside db.asUser: RLS keeps the answer to the caller's own watch list. */
export const watchedSymbolQueries = {
  among: async (q: Queryable, symbols: string[]): Promise<Set<string>> =>
    new Set(
      (await q.query<{ symbol: string }>('select distinct symbol from public.user_symbols where symbol = any($1::text[])', [symbols])).rows.map(
        (r) => r.symbol,
      ),
    ),
};
