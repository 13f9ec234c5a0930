import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../common/db';
import { createMigratedDatabases } from '../../test/databases';
import type { Candle, WatchKey } from '../domain';
import { analysisStore } from './analysis.store';
import { candleStore } from './candles.store';

// The statements every symbol-cycle runs must cost the same with a year of history stored as
// with none: each watcher's rows are reached through its primary key, never by reading a whole
// table. These plans are Postgres's own (EXPLAIN), taken over tables filled and analysed as in
// production, so a rewrite that lets the planner scan a table fails here, not in a slow month.

let dbs: Awaited<ReturnType<typeof createMigratedDatabases>>;
let pool: pg.Pool;

const KEYS: WatchKey[] = Array.from({ length: 20 }, (_, i) => ({ symbol: `P${i}/USDT`, timeframe: '5m' }));
const T0 = Date.UTC(2025, 0, 1);
const TF = 300_000;

beforeAll(async () => {
  dbs = await createMigratedDatabases();
  pool = new pg.Pool({ connectionString: dbs.tradingUrl, max: 2 });
  // 200 other watchers × 100 candles, analysed (two clusters each) and signalled: what a running deployment holds.
  await pool.query(
    `with w as (select 'OTHER' || g || '/USDT' as symbol from generate_series(1, 200) g),
          t as (select timestamptz 'epoch' + ($1::float8 + g * $2::float8) * interval '1 millisecond' as ts from generate_series(0, 99) g)
     , c as (insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
             select symbol, '5m', ts, 10, 11, 9, 10, 5, 'simulated' from w, t)
     , i as (insert into public.indicators (symbol, timeframe, candle_time, values) select symbol, '5m', ts, '{}' from w, t)
     , l as (insert into public.liq_clusters (symbol, timeframe, candle_time, source, side, price_low, price_high, strength)
             select symbol, '5m', ts, 'estimated', side, 8, 9, 0.5 from w, t, (values ('long'), ('short')) s(side))
     , r as (insert into public.risk_metric (symbol, timeframe, candle_time, realized_vol, atr_pct, drawdown_pct, volume_z, regime)
             select symbol, '5m', ts, 0.5, 1, 0, 0, 'normal' from w, t)
     insert into public.signals (symbol, timeframe, candle_time, direction, score, entry) select symbol, '5m', ts, 'flat', 0, 10 from w, t`,
    [T0, TF],
  );
  // And many more series than that, each counted in candle_series (sql/trading/0007): that table grows with watchers.
  await pool.query(
    `insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
     select 'MORE' || g || '/USDT', '5m', timestamptz 'epoch' + $1::float8 * interval '1 millisecond', 10, 11, 9, 10, 5, 'simulated'
     from generate_series(1, 3000) g`,
    [T0],
  );
  await pool.query('analyze');
});
afterAll(async () => {
  await pool?.end();
  await dbs?.drop();
});

/**
 * Runs a store call against EXPLAIN instead of executing it (nothing is written) and returns the plan's text.
 * With `analyze`, EXPLAIN ANALYZE runs it, inside a transaction rolled back after: the plan says which parts ran.
 */
async function planOf(call: (q: Queryable) => Promise<unknown>, options: { analyze?: boolean } = {}): Promise<string> {
  const explain = options.analyze ? 'explain (analyze, costs off, timing off, summary off)' : 'explain';
  const client = await pool.connect();
  let plan = '';
  try {
    if (options.analyze) await client.query('begin');
    const explaining: Queryable = {
      query: async (text, values) => {
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(`${explain} ${text}`, values);
        plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        return { rows: [] } as never;
      },
    };
    // The store then reads the (empty) result as its own: what it makes of that is not the point here.
    await call(explaining).catch(() => undefined);
  } finally {
    if (options.analyze) await client.query('rollback');
    client.release();
  }
  expect(plan).not.toBe('');
  return plan;
}

const candle = (i: number): Candle => ({ openTime: T0 + i * TF, open: 10, high: 11, low: 9, close: 10, volume: 5 });
const SCANS = /Seq Scan on (candles|candle_series|indicators|risk_metric|signals|liq_clusters)|hashed SubPlan/;

describe('the hot path as the tables grow', () => {
  it("stores a batch's candles and reads its watchers' state through primary keys, never by scanning a table", async () => {
    const steady = await planOf((q) =>
      candleStore.storeAndReadBackMany(
        q,
        KEYS.map((key) => ({ key, source: 'simulated', candles: [candle(100)], newest: candle(100).openTime, beforeLimit: 99, cached: { version: 99 } })),
      ),
    );
    expect(steady).toContain('signals');
    expect(steady).toContain('candle_series');
    expect(steady).not.toMatch(SCANS);
    const first = await planOf((q) => candleStore.storeAndReadBack(q, KEYS[0]!, 'simulated', [candle(1), candle(2)], candle(2).openTime, 0));
    expect(first).toContain('signals');
    expect(first).toContain('candle_series');
    expect(first).not.toMatch(SCANS);
  });

  it("reads a batch's signal inputs through primary keys, never by scanning a table", async () => {
    const plan = await planOf((q) => analysisStore.loadSignalInputsMany(q, KEYS.map((key) => ({ key, lookback: 50, openForMs: 24 * TF }))));
    expect(plan).toContain('signals');
    expect(plan).not.toMatch(SCANS);
  });

  it("stores a batch of new watchers' candles reading them once: the insert of overlaps does not run", async () => {
    const fresh = Array.from({ length: 10 }, (_, i) => candle(i));
    const batch = [1, 2, 3].map((n) => ({ key: { symbol: `NEW${n}/USDT`, timeframe: '5m' as const }, source: 'simulated', candles: fresh, newest: candle(9).openTime, beforeLimit: 0 }));
    const plan = await planOf((q) => candleStore.storeAndReadBackMany(q, batch), { analyze: true });
    // The overlap insert's CTE, up to the next CTE or the main query.
    const overlap = /CTE gap_filled\n([\s\S]*?)\n {2}(?:CTE|->)/.exec(plan)?.[1] ?? '';
    expect(overlap).toContain('Conflict Resolution: NOTHING');
    const reads = overlap.split('\n').filter((line) => line.includes('Function Scan on generate_series'));
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.every((line) => line.includes('(never executed)'))).toBe(true);
    // The plain insert read all 30 candles.
    const appended = /CTE appended\n([\s\S]*?)\n {2}CTE/.exec(plan)?.[1] ?? '';
    expect(appended).toMatch(/Function Scan on generate_series \w+ \(actual rows=30\b/);
  });
});

