import type { Queryable } from '../../common/db';
import type { Candle, WatchKey } from '../domain';
import { float8ArrayParam, int4ArrayParam } from './binary-array';

interface CandleRecord {
  t: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

// open_time travels as epoch milliseconds both ways: exact, and no timezone parsing.
const EPOCH_MS = `(extract(epoch from open_time) * 1000)::float8`;
const fromMs = (param: string) => `(timestamptz 'epoch' + ${param}::float8 * interval '1 millisecond')`;
const toCandle = (r: CandleRecord): Candle => ({ openTime: r.t, open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume });

/** The aggregate behind CANDLE_ARRAY_SQL, over rows `alias` with columns t (epoch ms), open, high, low, close, volume. */
const candleArrayAgg = (alias: string) =>
  `coalesce(json_agg(json_build_array(${['t', 'open', 'high', 'low', 'close', 'volume'].map((c) => `${alias}.${c}`).join(', ')}) order by ${alias}.t), '[]')`;

/**
 * Candles as one JSON array of [t, o, h, l, c, v] rows: Postgres builds it,
 * Node parses it natively, instead of a row and six parsed fields per candle
 * (the hot path reads hundreds per job). float8 → JSON is exact in PG ≥ 12.
 */
export const CANDLE_ARRAY_SQL = (from: string) => `(select ${candleArrayAgg('w')} from ${from} w)`;
export const candlesFromArray = (rows: Array<[number, number, number, number, number, number]>): Candle[] =>
  rows.map(([openTime, open, high, low, close, volume]) => ({ openTime, open, high, low, close, volume }));

export interface StoredBatch {
  inserted: number;
  /** Open time of the newest candle this call inserted, or null. */
  newestInserted: number | null;
  /** Open time of the newest analysed candle at or before `newest` (null: none yet), and whether `newest` has a signal. */
  lastAnalysed: number | null;
  signalled: boolean;
  /** Up to `beforeLimit` stored candles before the first of the new ones (or up to `newest` when none were given). */
  before: Candle[];
  /** With `cached`: the series is still as the caller's copy found it (and `before` was not read). */
  cachedValid: boolean;
  /**
   * With `cached` (and its `newest`) when the copy is stale only because
   * candles were appended after it (another worker's ingests): those candles,
   * ascending, as stored (some may be this call's own, fetched again). The
   * copy followed by them is then the series' newest candles, so `before`
   * need not be read. Null when anything else changed (a gap filled, a
   * delete), or when more than `beforeLimit` were appended.
   */
  appendedSince: Candle[] | null;
  /** The series' version (sql/trading/0007) once this call's candles are stored: the `version` to send as `cached` next time. */
  seriesVersion: number;
  /** Open time of the newest candle stored before this call (null: none). */
  storedBefore: number | null;
}

/**
 * The series' version (candles ever inserted or deleted), kept by the
 * database (sql/trading/0007): one primary-key probe. Read by the statement
 * that inserts, it is the version before that statement's own candles (its
 * snapshot does not see the trigger's update), so the one after them is this
 * plus what it inserted.
 */
const seriesVersionSql = (sym: string, tf: string) =>
  `coalesce((select s.version from public.candle_series s where s.symbol = ${sym} and s.timeframe = ${tf}), 0)::float8`;

/**
 * Closed candles never change, so an unchanged series version proves that no
 * candle was stored in (or removed from) the series since the caller's copy
 * was taken (no other worker's append, no gap fill): one counter probe instead
 * of reading a thousand candles back as JSON, or counting them (an index range
 * scan, the largest cost of a steady ingest).
 */
const cachedCheckSql = (versionBefore: string, cachedVersion: string) =>
  `case when ${cachedVersion}::float8 is null then null else ${versionBefore} = ${cachedVersion}::float8 end`;

/**
 * The candles stored after a stale copy's newest one, when they are all that
 * changed: as many rows after it as the version moved (every change since the
 * copy an insert after it, none removed). At most `limit` + 1 rows are read,
 * so a copy far behind costs no more than reading the window. With a second
 * worker taking turns on the same watchers, this is a candle or two where the
 * window read was a thousand.
 */
const appendedSinceSql = (sym: string, tf: string, versionBefore: string, cachedVersion: string, cachedNewest: string, limit: string) =>
  `case when ${cachedVersion}::float8 is null or ${cachedNewest}::float8 is null or ${versionBefore} = ${cachedVersion}::float8
          or ${versionBefore} - ${cachedVersion}::float8 > ${limit} then null
   else (select case when count(*) = ${versionBefore} - ${cachedVersion}::float8 then ${candleArrayAgg('a')} end
         from (select ${EPOCH_MS} as t, open, high, low, close, volume from public.candles c
                where c.symbol = ${sym} and c.timeframe = ${tf} and c.open_time > ${fromMs(cachedNewest)}
                order by c.open_time limit ${limit} + 1) a)
   end`;

/**
 * Candles as six binary `float8[]` parameters (open time in ms, open, high,
 * low, close, volume), for `unnest(...)` in SQL: a first ingest sends ~1,000
 * candles per watcher, and formatting them as JSON cost more CPU than
 * analysing them (see binary-array.ts).
 */
export function candleColumns(candles: readonly Candle[]): Buffer[] {
  const n = candles.length;
  const cols = [new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n)] as const;
  for (let i = 0; i < n; i++) {
    const c = candles[i]!;
    cols[0][i] = c.openTime;
    cols[1][i] = c.open;
    cols[2][i] = c.high;
    cols[3][i] = c.low;
    cols[4][i] = c.close;
    cols[5][i] = c.volume;
  }
  return cols.map(float8ArrayParam);
}

/**
 * Rows t, o, h, l, c, v (and `i`, the owner, when `owner` names an int4[]
 * parameter) of candleColumns' six parameters starting at `$first`, as a FROM
 * item. Subscripted by a generate_series rather than a many-argument
 * `unnest`: Postgres runs that as one function scan per array, each
 * materialised into its own tuplestore (spilling past work_mem at 50,000
 * candles), which took ~3× as long to yield the rows.
 */
export const candleRows = (first: number, owner?: string) => {
  const cols = ['t', 'o', 'h', 'l', 'c', 'v'].map((name, k) => ({ name, param: `$${first + k}::float8[]` }));
  const arrays = [...(owner ? [`${owner}::int4[] as a_i`] : []), ...cols.map((c) => `${c.param} as a_${c.name}`)];
  const names = [...(owner ? ['i'] : []), ...cols.map((c) => c.name)];
  return `(select ${arrays.join(', ')}) p, generate_series(1, cardinality($${first}::float8[])) g(n),
         lateral (select ${names.map((n) => `p.a_${n}[g.n]`).join(', ')}) as u(${names.join(', ')})`;
};

/**
 * Whether a watcher's candle has its signal, as a primary-key probe. Not
 * `exists (...)`: Postgres may run an EXISTS in a select list as a hashed
 * subplan, reading the whole signals table once per statement, which grows
 * with every candle ever signalled (seen in the plan of storeAndReadBackMany
 * at 2,000 rows already). A scalar subquery with LIMIT cannot be hashed.
 */
export const signalledSql = (sym: string, tf: string, candleTime: string) =>
  `coalesce((select true from public.signals s where s.symbol = ${sym} and s.timeframe = ${tf} and s.candle_time = ${candleTime} limit 1), false)`;

/** One watcher's part of storeAndReadBackMany: the arguments of storeAndReadBack. */
export interface StoreRequest {
  key: WatchKey;
  source: string;
  candles: readonly Candle[];
  newest: number;
  beforeLimit: number;
  /**
   * The caller holds the newest stored candles already (its window of the
   * last ingest, taken at the series' `version`): instead of reading
   * `before` back, the statement only checks that the series is still at
   * `version` (nothing stored since), and says so in `cachedValid`;
   * `before` is then empty.
   */
  cached?: {
    version: number;
    /** Open time of the copy's newest candle: with it, a copy stale only by appended candles gets them (`appendedSince`). */
    newest?: number;
  };
}

interface StoredRow {
  inserted: number;
  newest_inserted: number | null;
  last_analysed: number | null;
  signalled: boolean;
  before: Array<[number, number, number, number, number, number]>;
  cached_valid: boolean | null;
  appended_since: Array<[number, number, number, number, number, number]> | null;
  series_version: number;
  stored_before: number | null;
}

/** storeAndReadBackMany's row: what only the statement knows (the caller counts its appended candles itself). */
interface ManyRow extends Omit<StoredRow, 'inserted' | 'newest_inserted' | 'series_version'> {
  gap_inserted: number;
  gap_newest: number | null;
  version_before: number;
}

const storedBatchOf = (row: StoredRow): StoredBatch => ({
  cachedValid: row.cached_valid === true,
  appendedSince: row.appended_since ? candlesFromArray(row.appended_since) : null,
  inserted: row.inserted,
  newestInserted: row.newest_inserted,
  lastAnalysed: row.last_analysed,
  signalled: row.signalled,
  before: candlesFromArray(row.before),
  seriesVersion: row.series_version,
  storedBefore: row.stored_before,
});

/** The `candles` table. Closed candles never change, so a row once stored is never rewritten. */
export const candleStore = {
  /** Open time of the newest stored candle, or null. */
  latestOpenTime: async (q: Queryable, key: WatchKey): Promise<number | null> =>
    (
      await q.query<{ t: number | null }>(
        `select ${EPOCH_MS} as t from public.candles where symbol = $1 and timeframe = $2 order by open_time desc limit 1`,
        [key.symbol, key.timeframe],
      )
    ).rows[0]?.t ?? null,

  /**
   * The ingest's one round trip: inserts the candles not stored yet, says
   * which candle was analysed last and whether `newest` has its signal, and reads the
   * stored candles that precede the new ones (the statement's snapshot does
   * not see its own inserts, so the caller appends `candles` itself).
   */
  storeAndReadBack: async (
    q: Queryable,
    key: WatchKey,
    source: string,
    candles: readonly Candle[],
    newest: number,
    beforeLimit: number,
    cached?: StoreRequest['cached'],
  ): Promise<StoredBatch> => {
    const before = candles[0]?.openTime ?? newest + 1;
    const { rows } = await q.query<StoredRow>(
      `with ins as (
         insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
         select $1, $2, timestamptz 'epoch' + u.t * interval '1 millisecond', u.o, u.h, u.l, u.c, u.v, $3
         from ${candleRows(8)}
         on conflict (symbol, timeframe, open_time) do nothing
         returning open_time
       )
       select (select count(*)::int from ins) as inserted,
         ${seriesVersionSql('$1', '$2')} + (select count(*) from ins) as series_version,
         (select ${EPOCH_MS} from public.candles where symbol = $1 and timeframe = $2 order by open_time desc limit 1) as stored_before,
         (select (extract(epoch from max(open_time)) * 1000)::float8 from ins) as newest_inserted,
         (select (extract(epoch from max(candle_time)) * 1000)::float8 from public.indicators
           where symbol = $1 and timeframe = $2 and candle_time <= ${fromMs('$4')}) as last_analysed,
         ${signalledSql('$1', '$2', fromMs('$4'))} as signalled,
         ${CANDLE_ARRAY_SQL(`(select ${EPOCH_MS} as t, open, high, low, close, volume from public.candles
             where symbol = $1 and timeframe = $2 and open_time < ${fromMs('$5')} order by open_time desc limit $6)`)} as before,
         ${cachedCheckSql(seriesVersionSql('$1', '$2'), '$7')} as cached_valid,
         ${appendedSinceSql('$1', '$2', seriesVersionSql('$1', '$2'), '$7', '$14', '$15::int')} as appended_since`,
      [
        key.symbol,
        key.timeframe,
        source,
        newest,
        before,
        cached ? 0 : Math.max(0, beforeLimit),
        cached?.version ?? null,
        ...candleColumns(candles),
        cached?.newest ?? null,
        Math.max(0, beforeLimit),
      ],
    );
    return storedBatchOf(rows[0]!);
  },

  /** latestOpenTime of many watchers in one statement, in order. */
  latestOpenTimeMany: async (q: Queryable, keys: readonly WatchKey[]): Promise<Array<number | null>> =>
    (
      await q.query<{ t: number | null }>(
        `select (select ${EPOCH_MS} from public.candles c where c.symbol = k.symbol and c.timeframe = k.timeframe
           order by open_time desc limit 1) as t
         from unnest($1::text[], $2::text[]) with ordinality as k(symbol, timeframe, i) order by k.i`,
        [keys.map((k) => k.symbol), keys.map((k) => k.timeframe)],
      )
    ).rows.map((r) => r.t),

  /**
   * storeAndReadBack of many watchers (each its own key) in one statement:
   * every watcher's new candles inserted together, then each one's answers,
   * in order. Same snapshot rule: the reads do not see this statement's inserts.
   */
  storeAndReadBackMany: async (q: Queryable, items: readonly StoreRequest[]): Promise<StoredBatch[]> => {
    const keys = items.map((it, i) => ({
      i,
      symbol: it.key.symbol,
      timeframe: it.key.timeframe,
      source: it.source,
      newest: it.newest,
      before: it.candles[0]?.openTime ?? it.newest + 1,
      lim: it.cached ? 0 : Math.max(0, it.beforeLimit),
      cached_version: it.cached?.version,
      cached_newest: it.cached?.newest,
      since_lim: Math.max(0, it.beforeLimit),
    }));
    const all = items.flatMap((it) => it.candles);
    const owner = new Int32Array(all.length);
    let at = 0;
    items.forEach((it, i) => owner.fill(i, at, (at += it.candles.length)));
    const { rows } = await q.query<ManyRow>(
      `with keys as materialized (
         select k.*, (select max(c.open_time) from public.candles c where c.symbol = k.symbol and c.timeframe = k.timeframe) as stored,
           ${seriesVersionSql('k.symbol', 'k.timeframe')} as series_version
         from json_to_recordset($1::json) as k(i int, symbol text, timeframe text, source text, newest float8, before float8, lim int,
           cached_version float8, cached_newest float8, since_lim int)
       ), given as not materialized (
         -- Read by both inserts below, each taking its part (not copied into a work table first).
         select k.symbol, k.timeframe, timestamptz 'epoch' + u.t * interval '1 millisecond' as open_time, u.o, u.h, u.l, u.c, u.v, k.source, k.stored
         from ${candleRows(3, '$2')}
         join keys k on k.i = u.i
       ), appended as (
         -- After each watcher's newest stored candle: nothing to conflict with, so a plain insert, half
         -- the cost of ON CONFLICT's speculative insertion per row (a first ingest stores ~1,000 per
         -- watcher). Should another worker store the same candles meanwhile (the stately queue keeps
         -- two off one watcher, bar an expired job), the unique key fails this statement and the
         -- batcher stores each watcher alone with storeAndReadBack, which skips what is there.
         -- No RETURNING: these are exactly the given candles after the stored one, which the caller counts
         -- itself (returning and grouping 50,000 rows was a fifth of a first ingest's statement).
         insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
         select symbol, timeframe, open_time, o, h, l, c, v, source from given where stored is null or open_time > stored
       ), gap_filled as (
         -- At or before it (a re-fetch overlapping what is stored, or a gap filled): skip what exists.
         -- The uncorrelated subquery is a one-time filter: with no watcher stored yet (a batch of
         -- first ingests) the given candles are not read a second time.
         insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
         select symbol, timeframe, open_time, o, h, l, c, v, source from given
         where open_time <= stored and (select bool_or(stored is not null) from keys)
         on conflict (symbol, timeframe, open_time) do nothing
         returning symbol, timeframe, open_time
       ), gap_per_key as (
         select symbol, timeframe, count(*)::int as n, (extract(epoch from max(open_time)) * 1000)::float8 as newest
         from gap_filled group by symbol, timeframe
       )
       select coalesce(n.n, 0) as gap_inserted, n.newest as gap_newest,
         k.series_version as version_before, (extract(epoch from k.stored) * 1000)::float8 as stored_before,
         (select (extract(epoch from max(candle_time)) * 1000)::float8 from public.indicators
           where symbol = k.symbol and timeframe = k.timeframe and candle_time <= ${fromMs('k.newest')}) as last_analysed,
         ${signalledSql('k.symbol', 'k.timeframe', fromMs('k.newest'))} as signalled,
         ${CANDLE_ARRAY_SQL(`(select ${EPOCH_MS} as t, open, high, low, close, volume from public.candles
             where symbol = k.symbol and timeframe = k.timeframe and open_time < ${fromMs('k.before')} order by open_time desc limit k.lim)`)} as before,
         ${cachedCheckSql('k.series_version', 'k.cached_version')} as cached_valid,
         ${appendedSinceSql('k.symbol', 'k.timeframe', 'k.series_version', 'k.cached_version', 'k.cached_newest', 'k.since_lim')} as appended_since
       from keys k left join gap_per_key n on n.symbol = k.symbol and n.timeframe = k.timeframe
       order by k.i`,
      [JSON.stringify(keys), int4ArrayParam(owner), ...candleColumns(all)],
    );
    return rows.map((row, i) => {
      // The appended insert took every given candle after the newest stored one, or failed the statement.
      let appended = 0;
      let newest = row.gap_newest;
      for (const c of items[i]!.candles) {
        if (row.stored_before !== null && c.openTime <= row.stored_before) continue;
        appended++;
        if (newest === null || c.openTime > newest) newest = c.openTime;
      }
      const inserted = appended + row.gap_inserted;
      return storedBatchOf({ ...row, inserted, newest_inserted: newest, series_version: row.version_before + inserted });
    });
  },

  /** `window` of many watchers in one statement, in order. */
  windowMany: async (q: Queryable, items: ReadonlyArray<{ key: WatchKey; upTo: number; limit: number }>): Promise<Candle[][]> =>
    (
      await q.query<{ candles: Array<[number, number, number, number, number, number]> }>(
        `select ${CANDLE_ARRAY_SQL(`(select ${EPOCH_MS} as t, open, high, low, close, volume from public.candles
             where symbol = k.symbol and timeframe = k.timeframe and open_time <= ${fromMs('k.up_to')}
             order by open_time desc limit k.lim)`)} as candles
         from json_to_recordset($1::json) as k(i int, symbol text, timeframe text, up_to float8, lim int)
         order by k.i`,
        [JSON.stringify(items.map((it, i) => ({ i, symbol: it.key.symbol, timeframe: it.key.timeframe, up_to: it.upTo, lim: it.limit })))],
      )
    ).rows.map((r) => candlesFromArray(r.candles)),

  /** The `limit` newest candles with openTime <= upTo, ascending. */
  window: async (q: Queryable, key: WatchKey, upTo: number, limit: number): Promise<Candle[]> =>
    (
      await q.query<CandleRecord>(
        `select * from (
           select ${EPOCH_MS} as t, open, high, low, close, volume from public.candles
           where symbol = $1 and timeframe = $2 and open_time <= ${fromMs('$3')}
           order by open_time desc limit $4
         ) w order by t`,
        [key.symbol, key.timeframe, upTo, limit],
      )
    ).rows.map(toCandle),

  /** Up to `limit` candles strictly after `after`, ascending. */
  after: async (q: Queryable, key: WatchKey, after: number, limit: number): Promise<Candle[]> =>
    (
      await q.query<CandleRecord>(
        `select ${EPOCH_MS} as t, open, high, low, close, volume from public.candles
         where symbol = $1 and timeframe = $2 and open_time > ${fromMs('$3')}
         order by open_time limit $4`,
        [key.symbol, key.timeframe, after, limit],
      )
    ).rows.map(toCandle),

  /** First candle at or after `from` and the newest candle: the two ends of a buy-and-hold. */
  span: async (q: Queryable, key: WatchKey, from: number): Promise<{ first: Candle; last: Candle } | null> => {
    const { rows } = await q.query<CandleRecord & { which: string }>(
      `(select 'first' as which, ${EPOCH_MS} as t, open, high, low, close, volume from public.candles
         where symbol = $1 and timeframe = $2 and open_time >= ${fromMs('$3')}
         order by open_time limit 1)
       union all
       (select 'last', ${EPOCH_MS}, open, high, low, close, volume from public.candles
         where symbol = $1 and timeframe = $2 order by open_time desc limit 1)`,
      [key.symbol, key.timeframe, from],
    );
    const first = rows.find((r) => r.which === 'first');
    const last = rows.find((r) => r.which === 'last');
    return first && last ? { first: toCandle(first), last: toCandle(last) } : null;
  },
};
