import type { Queryable } from '../../common/db';
import type { Candle, Direction, IndicatorValues, LiqCluster, RiskMetric, WatchKey } from '../domain';
import { CANDLE_ARRAY_SQL, candlesFromArray, signalledSql } from './candles.store';

export interface Analysis {
  indicators: IndicatorValues;
  risk: RiskMetric;
  clusters: LiqCluster[];
}

/** The open recommendation the guardrails compare a new signal against. */
export interface OpenRecommendation {
  id: number;
  direction: Exclude<Direction, 'flat'>;
  score: number;
  candleTime: number;
  /** The position it stands for after its own doubling decision, when it recorded one. */
  positionPct: number | null;
}

/** Everything compute_signals needs about the newest analysed candle. */
export interface SignalInputs extends Analysis {
  candleTime: number;
  signalled: boolean;
  candles: Candle[];
  previous: OpenRecommendation | null;
}

const fromMs = (param: string) => `(timestamptz 'epoch' + ${param}::float8 * interval '1 millisecond')`;

type SignalInputsRow = {
  t: number;
  values: IndicatorValues;
  signalled: boolean;
  risk: { realized_vol: number; atr_pct: number; drawdown_pct: number; volume_z: number; regime: RiskMetric['regime'] } | null;
  clusters: LiqCluster[];
  candles: Array<[number, number, number, number, number, number]>;
  previous: { id: number; direction: OpenRecommendation['direction']; score: number; t: number; position_pct: number | null } | null;
};

/** compute_signals' read of one watcher, with its parameters as SQL expressions (`$1`… or a lateral's columns). */
const signalInputsSql = (sym: string, tf: string, lookback: string, openFor: string) =>
  `with last_signal as (
         select max(candle_time) as t from public.signals where symbol = ${sym} and timeframe = ${tf}
       ), latest as (
         -- The oldest analysed candle after the newest signal (catch-up goes in order), else the newest.
         select candle_time, values from (
           (select 0 as rank, candle_time, values from public.indicators
            where symbol = ${sym} and timeframe = ${tf} and candle_time > coalesce((select t from last_signal), '-infinity')
            order by candle_time limit 1)
           union all
           (select 1, candle_time, values from public.indicators where symbol = ${sym} and timeframe = ${tf}
            order by candle_time desc limit 1)
         ) c order by rank limit 1
       )
       select (extract(epoch from l.candle_time) * 1000)::float8 as t, l.values,
         ${signalledSql(sym, tf, 'l.candle_time')} as signalled,
         (select row_to_json(r) from (select realized_vol, atr_pct, drawdown_pct, volume_z, regime from public.risk_metric
            where symbol = ${sym} and timeframe = ${tf} and candle_time = l.candle_time) r) as risk,
         (select coalesce(json_agg(json_build_object('source', c.source, 'side', c.side, 'priceLow', c.price_low,
            'priceHigh', c.price_high, 'strength', c.strength) order by c.price_low), '[]')
          from public.liq_clusters c where c.symbol = ${sym} and c.timeframe = ${tf} and c.candle_time = l.candle_time) as clusters,
         ${CANDLE_ARRAY_SQL(`(select (extract(epoch from open_time) * 1000)::float8 as t, open, high, low, close, volume
            from public.candles where symbol = ${sym} and timeframe = ${tf} and open_time <= l.candle_time
            order by open_time desc limit ${lookback})`)} as candles,
         (select row_to_json(p) from (
            select s.id, s.direction, s.score, (extract(epoch from s.candle_time) * 1000)::float8 as t,
              (s.doubling->>'positionPct')::float8 as position_pct from public.signals s
            where s.symbol = ${sym} and s.timeframe = ${tf} and s.candle_time < l.candle_time and s.direction <> 'flat'
              and s.candle_time > l.candle_time - ${openFor}::float8 * interval '1 millisecond'
            order by s.candle_time desc limit 1) p) as previous
       from latest l`;

function signalInputsOf(key: WatchKey, row: SignalInputsRow): SignalInputs {
  if (!row.risk) throw new Error(`risk_metric missing beside indicators of ${key.symbol} ${key.timeframe} at ${row.t}`);
  return {
    candleTime: row.t,
    signalled: row.signalled,
    indicators: row.values,
    risk: {
      realizedVol: row.risk.realized_vol,
      atrPct: row.risk.atr_pct,
      drawdownPct: row.risk.drawdown_pct,
      volumeZ: row.risk.volume_z,
      regime: row.risk.regime,
    },
    clusters: row.clusters,
    candles: candlesFromArray(row.candles),
    previous: row.previous
      ? { id: row.previous.id, direction: row.previous.direction, score: row.previous.score, candleTime: row.previous.t, positionPct: row.previous.position_pct }
      : null,
  };
}

/**
 * indicators, risk_metric and liq_clusters of one closed candle. Every write
 * is keyed by symbol+timeframe+candle_time and replaces what a previous
 * (crashed or retried) attempt left, so a job can run any number of times.
 */
export const analysisStore = {
  /**
   * One statement, so one round trip and atomic on its own. The clusters'
   * delete and insert share the statement's snapshot: the delete sees only
   * the rows of an earlier attempt, never the ones inserted beside it.
   */
  save: async (q: Queryable, key: WatchKey, candleTime: number, analysis: Analysis): Promise<void> => {
    const r = analysis.risk;
    await q.query(
      `with indicators as (
         insert into public.indicators (symbol, timeframe, candle_time, values) values ($1, $2, ${fromMs('$3')}, $4)
         on conflict (symbol, timeframe, candle_time) do update set values = excluded.values, computed_at = now()
       ), risk as (
         insert into public.risk_metric (symbol, timeframe, candle_time, realized_vol, atr_pct, drawdown_pct, volume_z, regime)
         values ($1, $2, ${fromMs('$3')}, $5, $6, $7, $8, $9)
         on conflict (symbol, timeframe, candle_time) do update set realized_vol = excluded.realized_vol,
           atr_pct = excluded.atr_pct, drawdown_pct = excluded.drawdown_pct, volume_z = excluded.volume_z,
           regime = excluded.regime, computed_at = now()
       ), old_clusters as (
         -- liq_clusters has no natural key: an earlier attempt's set is replaced whole.
         delete from public.liq_clusters where symbol = $1 and timeframe = $2 and candle_time = ${fromMs('$3')}
       )
       insert into public.liq_clusters (symbol, timeframe, candle_time, source, side, price_low, price_high, strength)
       select $1, $2, ${fromMs('$3')}, u.source, u.side, u."priceLow", u."priceHigh", u.strength
       from json_to_recordset($10::json) as u(source text, side text, "priceLow" float8, "priceHigh" float8, strength float8)`,
      [
        key.symbol,
        key.timeframe,
        candleTime,
        JSON.stringify(analysis.indicators),
        r.realizedVol,
        r.atrPct,
        r.drawdownPct,
        r.volumeZ,
        r.regime,
        JSON.stringify(analysis.clusters),
      ],
    );
  },

  /**
   * `save` of many analyses in one statement (never two of the same
   * watcher and candle: an upsert may not touch a row twice).
   */
  saveMany: async (q: Queryable, items: ReadonlyArray<{ key: WatchKey; candleTime: number; analysis: Analysis }>): Promise<void> => {
    const rows = items.map(({ key, candleTime, analysis }) => ({
      symbol: key.symbol,
      timeframe: key.timeframe,
      t: candleTime,
      values: analysis.indicators,
      ...analysis.risk,
    }));
    const clusters = items.flatMap(({ key, candleTime, analysis }) =>
      analysis.clusters.map((c) => ({ symbol: key.symbol, timeframe: key.timeframe, t: candleTime, ...c })),
    );
    await q.query(
      `with a as (
         select * from json_to_recordset($1::json) as a(symbol text, timeframe text, t float8, values jsonb, "realizedVol" float8,
           "atrPct" float8, "drawdownPct" float8, "volumeZ" float8, regime text)
       ), indicators as (
         insert into public.indicators (symbol, timeframe, candle_time, values) select a.symbol, a.timeframe, ${fromMs('a.t')}, a.values from a
         on conflict (symbol, timeframe, candle_time) do update set values = excluded.values, computed_at = now()
       ), risk as (
         insert into public.risk_metric (symbol, timeframe, candle_time, realized_vol, atr_pct, drawdown_pct, volume_z, regime)
         select a.symbol, a.timeframe, ${fromMs('a.t')}, a."realizedVol", a."atrPct", a."drawdownPct", a."volumeZ", a.regime from a
         on conflict (symbol, timeframe, candle_time) do update set realized_vol = excluded.realized_vol,
           atr_pct = excluded.atr_pct, drawdown_pct = excluded.drawdown_pct, volume_z = excluded.volume_z,
           regime = excluded.regime, computed_at = now()
       ), old_clusters as (
         delete from public.liq_clusters c using a where c.symbol = a.symbol and c.timeframe = a.timeframe and c.candle_time = ${fromMs('a.t')}
       )
       insert into public.liq_clusters (symbol, timeframe, candle_time, source, side, price_low, price_high, strength)
       select u.symbol, u.timeframe, ${fromMs('u.t')}, u.source, u.side, u."priceLow", u."priceHigh", u.strength
       from json_to_recordset($2::json) as u(symbol text, timeframe text, t float8, source text, side text, "priceLow" float8, "priceHigh" float8, strength float8)`,
      [JSON.stringify(rows), JSON.stringify(clusters)],
    );
  },

  /**
   * compute_signals' one read: the next analysed candle of the watcher to
   * signal (the oldest analysed after its newest signal; with none, the
   * newest analysed, which then has its signal already), its
   * risk and clusters, whether it has a signal already, the `lookback`
   * candles up to it, and the open recommendation before it (the newest
   * long/short signal of the last `openForMs`: a position is closed by the
   * horizon at the latest, TRACK_RECORD_HORIZON_CANDLES).
   */
  loadSignalInputs: async (q: Queryable, key: WatchKey, lookback: number, openForMs: number): Promise<SignalInputs | null> => {
    const { rows } = await q.query<SignalInputsRow>(
      signalInputsSql('$1', '$2', '$3', '$4'),
      [key.symbol, key.timeframe, lookback, openForMs],
    );
    return rows[0] ? signalInputsOf(key, rows[0]) : null;
  },

  /** loadSignalInputs of many watchers in one statement, in order (null where nothing is analysed). */
  loadSignalInputsMany: async (
    q: Queryable,
    items: ReadonlyArray<{ key: WatchKey; lookback: number; openForMs: number }>,
  ): Promise<Array<SignalInputs | null>> => {
    const { rows } = await q.query<SignalInputsRow | { t: null }>(
      `select x.* from json_to_recordset($1::json) as k(i int, symbol text, timeframe text, lookback int, open_for float8)
       left join lateral (${signalInputsSql('k.symbol', 'k.timeframe', 'k.lookback', 'k.open_for')}) x on true
       order by k.i`,
      [JSON.stringify(items.map((it, i) => ({ i, symbol: it.key.symbol, timeframe: it.key.timeframe, lookback: it.lookback, open_for: it.openForMs })))],
    );
    return rows.map((row, i) => (row.t === null ? null : signalInputsOf(items[i]!.key, row as SignalInputsRow)));
  },
};
