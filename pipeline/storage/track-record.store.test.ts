import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabases } from '../../test/databases';
import { recordingQueryable } from '../../test/recording-queryable';
import type { WatchKey } from '../domain';
import { trackRecordStore, type HistoryDecision } from './track-record.store';

let dbs: Awaited<ReturnType<typeof createMigratedDatabases>>;
let pool: pg.Pool;

const T0 = Date.UTC(2025, 0, 1);
const TF = 300_000;
const key = (symbol: string): WatchKey => ({ symbol, timeframe: '5m' });
const flat = (i: number): HistoryDecision => ({ candleTime: T0 + i * TF, decision: { direction: 'flat', score: 0, stop: null, takeProfit: null } });
const long = (i: number, score = 61.6): HistoryDecision => ({ candleTime: T0 + i * TF, decision: { direction: 'long', score, stop: 95.25 + i, takeProfit: 110.125 + i } });

/** Records each statement sent: whether it had ON CONFLICT, and whether it failed. */
const recording = () => recordingQueryable(pool, (text) => ({ onConflict: /on conflict/i.test(text) }));

const stored = async (symbol: string) =>
  (
    await pool.query<{ i: number; direction: string; score: number; stop: number | null; take_profit: number | null }>(
      `select ((extract(epoch from candle_time) * 1000 - $2) / $3)::int as i, direction, score, stop, take_profit
       from public.history_decisions where symbol = $1 order by candle_time`,
      [symbol, T0, TF],
    )
  ).rows;

beforeAll(async () => {
  dbs = await createMigratedDatabases();
  pool = new pg.Pool({ connectionString: dbs.tradingUrl, max: 4 });
});
afterAll(async () => {
  await pool?.end();
  await dbs?.drop();
});

describe('storing a walk-forward history', () => {
  it('stores every decision as given in one plain insert: direction, rounded score, and null for a missing or non-finite level', async () => {
    const { q, sent } = recording();
    const rows = [
      flat(0),
      long(1),
      { candleTime: T0 + 2 * TF, decision: { direction: 'short' as const, score: 49.4, stop: 130.5, takeProfit: Number.POSITIVE_INFINITY } },
      { candleTime: T0 + 3 * TF, decision: { direction: 'long' as const, score: 100, stop: Number.NaN, takeProfit: 1e-9 } },
    ];
    expect(await trackRecordStore.saveHistory(q, key('H1/USDT'), rows)).toBe(4);
    expect(sent).toEqual([{ onConflict: false, failed: false }]);
    expect(await stored('H1/USDT')).toEqual([
      { i: 0, direction: 'flat', score: 0, stop: null, take_profit: null },
      { i: 1, direction: 'long', score: 62, stop: 96.25, take_profit: 111.125 },
      { i: 2, direction: 'short', score: 49, stop: 130.5, take_profit: null },
      { i: 3, direction: 'long', score: 100, stop: null, take_profit: 1e-9 },
    ]);
  });

  it('keeps the decisions already stored and adds only the others (a retried walk-forward, a held call)', async () => {
    await trackRecordStore.saveHistory(pool, key('H2/USDT'), [long(2, 70), flat(3)]);
    const { q, sent } = recording();
    // Candles 0..5, with other decisions at 2 and 3: those stay as first stored.
    const again = [flat(0), flat(1), long(2, 10), long(3, 20), flat(4), long(5, 80)];
    expect(await trackRecordStore.saveHistory(q, key('H2/USDT'), again)).toBe(4);
    // The plain insert failed on the unique key, having written nothing; the second went around the stored ones.
    expect(sent).toEqual([
      { onConflict: false, failed: true },
      { onConflict: true, failed: false },
    ]);
    expect((await stored('H2/USDT')).map((r) => [r.i, r.direction, r.score])).toEqual([
      [0, 'flat', 0],
      [1, 'flat', 0],
      [2, 'long', 70],
      [3, 'flat', 0],
      [4, 'flat', 0],
      [5, 'long', 80],
    ]);
    expect(await trackRecordStore.hasHistory(pool, key('H2/USDT'))).toBe(true);
  });

  it('stores nothing for no decisions, and fails whole on a decision the table refuses', async () => {
    expect(await trackRecordStore.saveHistory(pool, key('H3/USDT'), [])).toBe(0);
    const bad = { candleTime: T0 + TF, decision: { direction: 'long' as const, score: 101, stop: 1, takeProfit: 2 } };
    await expect(trackRecordStore.saveHistory(pool, key('H3/USDT'), [flat(0), bad])).rejects.toMatchObject({ code: '23514' });
    expect(await stored('H3/USDT')).toEqual([]);
  });

  it("reads for held candles the decisions load reads with the stored ones: the history's, else the live signal's, else none", async () => {
    const symbol = 'H4/USDT';
    await pool.query(
      `insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
       select $1, '5m', timestamptz 'epoch' + ($2::float8 + i * $3) * interval '1 millisecond', 10, 12, 9, 11, 1, 'seed' from generate_series(0, 7) i`,
      [symbol, T0, TF],
    );
    await trackRecordStore.saveHistory(pool, key(symbol), [flat(1), long(2), flat(4)]);
    // Live signals at 4 (the history's decision wins there) and 6 (the only decision at 6).
    await pool.query(
      `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit)
       select $1, '5m', timestamptz 'epoch' + ($2::float8 + i * $3) * interval '1 millisecond', 'short', 55, 11, 12, 9 from unnest(array[4, 6]) i`,
      [symbol, T0, TF],
    );
    const loaded = await trackRecordStore.load(pool, key(symbol), 6);
    expect(loaded.candles.map((c) => (c.openTime - T0) / TF)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(loaded.decisions.map((d) => d?.direction ?? null)).toEqual(['long', null, 'flat', null, 'short', null]);
    expect(await trackRecordStore.decisionsFor(pool, key(symbol), loaded.candles)).toEqual(loaded.decisions);
    expect(await trackRecordStore.decisionsFor(pool, key(symbol), [])).toEqual([]);
  });
});
