import type { Queryable } from '../../common/db';
import type { TradeSignal } from '../backtest/simulate';
import type { Candle, Direction, WatchKey } from '../domain';
import type { EdgeInput, TrackRecord } from '../track-record/track-record';
import { CANDLE_ARRAY_SQL, candlesFromArray } from './candles.store';

const fromMs = (param: string) => `(timestamptz 'epoch' + ${param}::float8 * interval '1 millisecond')`;

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

  /** Stores history decisions in one statement; a decision already stored (a retried job) is kept. */
  saveHistory: async (q: Queryable, key: WatchKey, rows: readonly HistoryDecision[]): Promise<number> => {
    if (!rows.length) return 0;
    const result = await q.query(
      `insert into public.history_decisions (symbol, timeframe, candle_time, direction, score, stop, take_profit)
       select $1, $2, ${fromMs('u.t')}, u.direction, u.score, u.stop, u.take_profit
       from json_to_recordset($3::json) as u(t float8, direction text, score int, stop float8, take_profit float8)
       on conflict (symbol, timeframe, candle_time) do nothing`,
      [
        key.symbol,
        key.timeframe,
        JSON.stringify(
          rows.map((r) => ({ t: r.candleTime, direction: r.decision.direction, score: Math.round(r.decision.score), stop: r.decision.stop, take_profit: r.decision.takeProfit })),
        ),
      ],
    );
    return result.rowCount ?? 0;
  },

  /**
   * The newest `limit` candles and, for each, the decision the strategy took at
   * its close: the history's decision when there is one (the walk-forward of a
   * new pair's history, and the call behind a withheld signal), else the live
   * signal, else null.
   * One round trip.
   */
  load: async (q: Queryable, key: WatchKey, limit: number): Promise<{ candles: Candle[]; decisions: Array<TradeSignal | null> }> => {
    const { rows } = await q.query<{
      candles: Array<[number, number, number, number, number, number]>;
      decisions: Array<{ t: number; direction: Direction; score: number; stop: number | null; take_profit: number | null }>;
    }>(
      `with w as (
         select (extract(epoch from open_time) * 1000)::float8 as t, open_time, open, high, low, close, volume from public.candles
         where symbol = $1 and timeframe = $2 order by open_time desc limit $3
       )
       select ${CANDLE_ARRAY_SQL('w')} as candles,
         (select coalesce(json_agg(d), '[]') from (
            select (extract(epoch from h.candle_time) * 1000)::float8 as t, h.direction, h.score, h.stop, h.take_profit
            from public.history_decisions h where h.symbol = $1 and h.timeframe = $2 and h.candle_time >= (select min(open_time) from w)
            union all
            select (extract(epoch from s.candle_time) * 1000)::float8, s.direction, s.score, s.stop, s.take_profit
            from public.signals s where s.symbol = $1 and s.timeframe = $2 and s.candle_time >= (select min(open_time) from w)
              and not exists (select 1 from public.history_decisions h where h.symbol = $1 and h.timeframe = $2 and h.candle_time = s.candle_time)
          ) d) as decisions`,
      [key.symbol, key.timeframe, limit],
    );
    const candles = candlesFromArray(rows[0]!.candles);
    const byTime = new Map(rows[0]!.decisions.map((d) => [d.t, { direction: d.direction, score: d.score, stop: d.stop, takeProfit: d.take_profit }]));
    return { candles, decisions: candles.map((c) => byTime.get(c.openTime) ?? null) };
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
    const { rows } = await q.query<{
      candles: number;
      trades: number;
      expectancy_pct: number | null;
      coin_flip_median_pct: number | null;
      coin_flip_percentile: number | null;
      edge: EdgeInput['edge'];
    }>(
      `select candles, trades, expectancy_pct, coin_flip_median_pct, coin_flip_percentile, edge from public.track_record
       where symbol = $1 and timeframe = $2 and window_name = 'all'`,
      [key.symbol, key.timeframe],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      candles: r.candles,
      trades: r.trades,
      expectancyPct: r.expectancy_pct,
      edge: r.edge,
      coinFlip: { medianExpectancyPct: r.coin_flip_median_pct, percentile: r.coin_flip_percentile },
    };
  },
};
