import type { Queryable } from '../../common/db';
import type { TradeSignal } from '../backtest/simulate';
import type { Candle, Direction, WatchKey } from '../domain';
import type { EdgeInput, TrackRecord } from '../track-record/track-record';
import { float8ArrayParam, int4ArrayParam } from './binary-array';
import { CANDLE_ARRAY_SQL, candlesFromArray } from './candles.store';

const fromMs = (param: string) => `(timestamptz 'epoch' + ${param}::float8 * interval '1 millisecond')`;

const UNIQUE_VIOLATION = '23505';
/** A decision's direction as a number on the wire: its index here, 1-based in SQL's array. */
const DIRECTIONS: readonly Direction[] = ['flat', 'long', 'short'];
const DIRECTIONS_SQL = `(array[${DIRECTIONS.map((d) => `'${d}'`).join(', ')}])`;

/**
 * A missing stop or take-profit travels as NaN (a float8 array holds no NULL), as does a
 * non-finite one, which JSON, the format before, turned into null too.
 */
const orNaN = (v: number | null) => (v !== null && Number.isFinite(v) ? v : Number.NaN);

function historyColumns(rows: readonly HistoryDecision[]): Buffer[] {
  return [
    float8ArrayParam(rows.map((r) => r.candleTime)),
    int4ArrayParam(rows.map((r) => DIRECTIONS.indexOf(r.decision.direction))),
    int4ArrayParam(rows.map((r) => Math.round(r.decision.score))),
    float8ArrayParam(rows.map((r) => orNaN(r.decision.stop))),
    float8ArrayParam(rows.map((r) => orNaN(r.decision.takeProfit))),
  ];
}

const insertHistorySql = (onConflict: string) =>
  `insert into public.history_decisions (symbol, timeframe, candle_time, direction, score, stop, take_profit)
   select $1, $2, ${fromMs('u.t')}, ${DIRECTIONS_SQL}[u.d + 1], u.score, nullif(u.stop, 'NaN'), nullif(u.take_profit, 'NaN')
   from unnest($3::float8[], $4::int4[], $5::int4[], $6::float8[], $7::float8[]) as u(t, d, score, stop, take_profit)
   ${onConflict}`;

interface DecisionRow {
  t: number;
  direction: Direction;
  score: number;
  stop: number | null;
  take_profit: number | null;
}

/** Per candle time from `since` on: the history's decision, else the live signal ($1 symbol, $2 timeframe). */
const decisionsSinceSql = (since: string) =>
  `(select coalesce(json_agg(d), '[]') from (
      select (extract(epoch from h.candle_time) * 1000)::float8 as t, h.direction, h.score, h.stop, h.take_profit
      from public.history_decisions h where h.symbol = $1 and h.timeframe = $2 and h.candle_time >= ${since}
      union all
      select (extract(epoch from s.candle_time) * 1000)::float8, s.direction, s.score, s.stop, s.take_profit
      from public.signals s where s.symbol = $1 and s.timeframe = $2 and s.candle_time >= ${since}
        and not exists (select 1 from public.history_decisions h where h.symbol = $1 and h.timeframe = $2 and h.candle_time = s.candle_time)
    ) d)`;

function alignDecisions(candles: readonly Candle[], rows: readonly DecisionRow[]): Array<TradeSignal | null> {
  const byTime = new Map(rows.map((d) => [d.t, { direction: d.direction, score: d.score, stop: d.stop, takeProfit: d.take_profit }]));
  return candles.map((c) => byTime.get(c.openTime) ?? null);
}

export interface HistoryDecision {
  candleTime: number;
  decision: TradeSignal;
}

/** history_decisions and track_record (sql/trading/0005). Every write is an upsert: a rerun only refreshes. */
export const trackRecordStore = {
  /** Whether the walk-forward of this watcher's history has been stored. */
  hasHistory: async (q: Queryable, key: WatchKey): Promise<boolean> =>
    (
      await q.query<{ e: boolean }>('select exists (select 1 from public.history_decisions where symbol = $1 and timeframe = $2) as e', [
        key.symbol,
        key.timeframe,
      ])
    ).rows[0]!.e,

  /** hasHistory of many watchers in one statement, in order. */
  hasHistoryMany: async (q: Queryable, keys: readonly WatchKey[]): Promise<boolean[]> =>
    (
      await q.query<{ e: boolean }>(
        `select exists (select 1 from public.history_decisions h where h.symbol = k.symbol and h.timeframe = k.timeframe) as e
         from unnest($1::text[], $2::text[]) with ordinality as k(symbol, timeframe, i) order by k.i`,
        [keys.map((k) => k.symbol), keys.map((k) => k.timeframe)],
      )
    ).rows.map((r) => r.e),

  /**
   * Stores history decisions; a decision already stored (a retried job, a
   * held call at a candle the walk-forward covered) is kept. A new watcher's
   * walk-forward stores ~1,800 at once, and the first try is a plain insert
   * of binary arrays: as JSON through ON CONFLICT's speculative insertion the
   * statement cost ~2.5× as much (21–25 against 8–10 ms for 1,800 rows on this
   * machine's PostgreSQL). Only when some are already there (the unique key
   * fails that statement, which wrote nothing) does it insert around them.
   */
  saveHistory: async (q: Queryable, key: WatchKey, rows: readonly HistoryDecision[]): Promise<number> => {
    if (!rows.length) return 0;
    const values = [key.symbol, key.timeframe, ...historyColumns(rows)];
    try {
      return (await q.query(insertHistorySql(''), values)).rowCount ?? 0;
    } catch (err) {
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      return (await q.query(insertHistorySql('on conflict (symbol, timeframe, candle_time) do nothing'), values)).rowCount ?? 0;
    }
  },

  /**
   * The newest `limit` candles and, for each, the decision the strategy took at
   * its close: the history's decision when there is one (the walk-forward of a
   * new pair's history, and the call behind a withheld signal), else the live
   * signal, else null.
   * One round trip.
   */
  load: async (q: Queryable, key: WatchKey, limit: number): Promise<{ candles: Candle[]; decisions: Array<TradeSignal | null> }> => {
    const { rows } = await q.query<{ candles: Array<[number, number, number, number, number, number]>; decisions: DecisionRow[] }>(
      `with w as (
         select (extract(epoch from open_time) * 1000)::float8 as t, open_time, open, high, low, close, volume from public.candles
         where symbol = $1 and timeframe = $2 order by open_time desc limit $3
       )
       select ${CANDLE_ARRAY_SQL('w')} as candles, ${decisionsSinceSql('(select min(open_time) from w)')} as decisions`,
      [key.symbol, key.timeframe, limit],
    );
    const candles = candlesFromArray(rows[0]!.candles);
    return { candles, decisions: alignDecisions(candles, rows[0]!.decisions) };
  },

  /**
   * load's decisions for candles the caller holds (a first ingest's, just
   * stored): the same reading, without sending the candles back.
   */
  decisionsFor: async (q: Queryable, key: WatchKey, candles: readonly Candle[]): Promise<Array<TradeSignal | null>> => {
    if (!candles.length) return [];
    const { rows } = await q.query<{ decisions: DecisionRow[] }>(`select ${decisionsSinceSql(fromMs('$3'))} as decisions`, [
      key.symbol,
      key.timeframe,
      candles[0]!.openTime,
    ]);
    return alignDecisions(candles, rows[0]!.decisions);
  },

  upsert: async (q: Queryable, key: WatchKey, records: readonly TrackRecord[]): Promise<void> => {
    if (!records.length) return;
    await q.query(
      `insert into public.track_record (symbol, timeframe, window_name, from_time, to_time, candles, trades, wins, win_rate,
         win_rate_low, win_rate_high, profit_factor, expectancy_pct, max_drawdown_pct, total_return_pct, buy_hold_return_pct,
         coin_flip_draws, coin_flip_seed, coin_flip_median_pct, coin_flip_p5_pct, coin_flip_p95_pct, coin_flip_percentile, edge, equity)
       select $1, $2, r."window", ${fromMs('r."fromTime"')}, ${fromMs('r."toTime"')}, r.candles, r.trades, r.wins, r."winRate",
         r."winRateLow", r."winRateHigh", r."profitFactor", r."expectancyPct", r."maxDrawdownPct", r."totalReturnPct", r."buyHoldReturnPct",
         (r."coinFlip"->>'draws')::int, (r."coinFlip"->>'seed')::bigint, (r."coinFlip"->>'medianExpectancyPct')::float8,
         (r."coinFlip"->>'p5')::float8, (r."coinFlip"->>'p95')::float8, (r."coinFlip"->>'percentile')::float8, r.edge, r.equity
       from json_to_recordset($3::json) as r("window" text, "fromTime" float8, "toTime" float8, candles int, trades int, wins int,
         "winRate" float8, "winRateLow" float8, "winRateHigh" float8, "profitFactor" float8, "expectancyPct" float8,
         "maxDrawdownPct" float8, "totalReturnPct" float8, "buyHoldReturnPct" float8, "coinFlip" jsonb, edge text, equity jsonb)
       on conflict (symbol, timeframe, window_name) do update set from_time = excluded.from_time, to_time = excluded.to_time,
         candles = excluded.candles, trades = excluded.trades, wins = excluded.wins, win_rate = excluded.win_rate,
         win_rate_low = excluded.win_rate_low, win_rate_high = excluded.win_rate_high, profit_factor = excluded.profit_factor,
         expectancy_pct = excluded.expectancy_pct, max_drawdown_pct = excluded.max_drawdown_pct,
         total_return_pct = excluded.total_return_pct, buy_hold_return_pct = excluded.buy_hold_return_pct,
         coin_flip_draws = excluded.coin_flip_draws, coin_flip_seed = excluded.coin_flip_seed,
         coin_flip_median_pct = excluded.coin_flip_median_pct, coin_flip_p5_pct = excluded.coin_flip_p5_pct,
         coin_flip_p95_pct = excluded.coin_flip_p95_pct, coin_flip_percentile = excluded.coin_flip_percentile,
         edge = excluded.edge, equity = excluded.equity, computed_at = now()`,
      [key.symbol, key.timeframe, JSON.stringify(records)],
    );
  },

  /** What the stored `all` rollup says about the edge (edgeFactsOf's input), or null before the first rollup. */
  allWindowEdge: async (q: Queryable, key: WatchKey): Promise<EdgeInput | null> => {
    const { rows } = await q.query<EdgeRow>(
      `select candles, trades, expectancy_pct, coin_flip_median_pct, coin_flip_percentile, edge from public.track_record
       where symbol = $1 and timeframe = $2 and window_name = 'all'`,
      [key.symbol, key.timeframe],
    );
    return rows[0] ? edgeInputOf(rows[0]) : null;
  },

  /** allWindowEdge of many watchers in one statement, in order. */
  allWindowEdgeMany: async (q: Queryable, keys: readonly WatchKey[]): Promise<Array<EdgeInput | null>> => {
    const { rows } = await q.query<EdgeRow | { trades: null }>(
      `select r.candles, r.trades, r.expectancy_pct, r.coin_flip_median_pct, r.coin_flip_percentile, r.edge
       from unnest($1::text[], $2::text[]) with ordinality as k(symbol, timeframe, i)
       left join public.track_record r on r.symbol = k.symbol and r.timeframe = k.timeframe and r.window_name = 'all'
       order by k.i`,
      [keys.map((k) => k.symbol), keys.map((k) => k.timeframe)],
    );
    return rows.map((r) => (r.trades === null ? null : edgeInputOf(r as EdgeRow)));
  },
};

interface EdgeRow {
  candles: number;
  trades: number;
  expectancy_pct: number | null;
  coin_flip_median_pct: number | null;
  coin_flip_percentile: number | null;
  edge: EdgeInput['edge'];
}

const edgeInputOf = (r: EdgeRow): EdgeInput => ({
  candles: r.candles,
  trades: r.trades,
  expectancyPct: r.expectancy_pct,
  edge: r.edge,
  coinFlip: { medianExpectancyPct: r.coin_flip_median_pct, percentile: r.coin_flip_percentile },
});
