import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queryable } from '../../common/db';
import { createMigratedDatabases } from '../../test/databases';
import type { Candle, WatchKey } from '../domain';
import { batchedStores } from './stores';

// The batched ingest statement appends each watcher's candles after its newest stored one with a
// plain insert (no ON CONFLICT), and only what overlaps the stored range goes through ON CONFLICT.
// These tests hold it to "each candle stored once, none lost", also when another worker races it.

let dbs: Awaited<ReturnType<typeof createMigratedDatabases>>;
let pool: pg.Pool;

const T0 = Date.UTC(2025, 0, 1);
const TF = 60_000;
const candle = (i: number, close = 10): Candle => ({ openTime: T0 + i * TF, open: 10, high: 12, low: 9, close, volume: 1 });
const range = (from: number, to: number, close?: number) => Array.from({ length: to - from + 1 }, (_, k) => candle(from + k, close));
const key = (symbol: string): WatchKey => ({ symbol, timeframe: '1m' });

async function storeDirectly(symbol: string, candles: Candle[]) {
  await pool.query(
    `insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
     select $1, '1m', timestamptz 'epoch' + (c->>'openTime')::float8 * interval '1 millisecond', 10, 12, 9, (c->>'close')::float8, 1, 'seed'
     from json_array_elements($2::json) c`,
    [symbol, JSON.stringify(candles)],
  );
}
const stored = async (symbol: string) =>
  (
    await pool.query<{ i: number; close: number; source: string }>(
      `select ((extract(epoch from open_time) * 1000 - $2) / $3)::int as i, close, source from public.candles where symbol = $1 order by open_time`,
      [symbol, T0, TF],
    )
  ).rows;

/** A Queryable over the pool that records each statement sent and whether it failed. */
function recording() {
  const sent: Array<{ many: boolean; failed: boolean }> = [];
  const q: Queryable = {
    query: async (text, values) => {
      const entry = { many: text.includes('json_to_recordset($1::json) as k(i int'), failed: false };
      sent.push(entry);
      try {
        return await pool.query(text, values);
      } catch (err) {
        entry.failed = true;
        throw err;
      }
    },
  };
  return { q, sent };
}

beforeAll(async () => {
  dbs = await createMigratedDatabases();
  pool = new pg.Pool({ connectionString: dbs.tradingUrl, max: 4 });
});
afterAll(async () => {
  await pool?.end();
  await dbs?.drop();
});

describe('storing candles for several watchers in one statement', () => {
  it('appends new candles, skips a re-fetched overlap and fills a gap, each candle once, in one statement', async () => {
    await storeDirectly('B/USDT', [...range(0, 4), ...range(6, 9)]); // candle 5 missing
    await storeDirectly('C/USDT', range(0, 9));
    const { q, sent } = recording();
    const stores = batchedStores(q);
    const source = 'simulated';
    const [a, b, c] = await Promise.all([
      stores.storeAndReadBack({ key: key('A/USDT'), source, candles: range(0, 9), newest: candle(9).openTime, beforeLimit: 0 }),
      // Overlaps 3..9 with other closes: what is stored stays; 5 (the gap) and 10..12 are new.
      stores.storeAndReadBack({ key: key('B/USDT'), source, candles: range(3, 12, 11), newest: candle(12).openTime, beforeLimit: 2 }),
      stores.storeAndReadBack({ key: key('C/USDT'), source, candles: [candle(10, 11)], newest: candle(10).openTime, beforeLimit: 3 }),
    ]);

    expect(sent).toEqual([{ many: true, failed: false }]);
    expect([a.inserted, b.inserted, c.inserted]).toEqual([10, 4, 1]);
    expect(b.newestInserted).toBe(candle(12).openTime);
    // The reads see what was stored before the statement: the candles before the first given one.
    expect(b.before.map((x) => x.openTime)).toEqual([candle(1).openTime, candle(2).openTime]);
    expect(c.before.map((x) => x.openTime)).toEqual([7, 8, 9].map((i) => candle(i).openTime));
    expect((await stored('A/USDT')).map((r) => r.i)).toEqual(range(0, 9).map((_, i) => i));
    expect(await stored('B/USDT')).toEqual([
      ...[0, 1, 2, 3, 4].map((i) => ({ i, close: 10, source: 'seed' })),
      { i: 5, close: 11, source },
      ...[6, 7, 8, 9].map((i) => ({ i, close: 10, source: 'seed' })),
      ...[10, 11, 12].map((i) => ({ i, close: 11, source })),
    ]);
    expect((await stored('C/USDT')).map((r) => r.i)).toEqual(range(0, 10).map((_, i) => i));
  });

  it('when another worker stores the same new candles meanwhile, fails the shared statement and stores each watcher alone: nothing lost, nothing twice', async () => {
    await storeDirectly('R/USDT', range(0, 9));
    await storeDirectly('S/USDT', range(0, 9));
    // The other worker: candle 10 of R, inserted and not yet committed.
    const other = await pool.connect();
    await other.query('begin');
    await other.query(
      `insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
       values ('R/USDT', '1m', timestamptz 'epoch' + $1::float8 * interval '1 millisecond', 10, 12, 9, 10.5, 1, 'other')`,
      [candle(10).openTime],
    );
    const { q, sent } = recording();
    const stores = batchedStores(q);
    const results = Promise.all([
      stores.storeAndReadBack({ key: key('R/USDT'), source: 'simulated', candles: range(10, 11, 11), newest: candle(11).openTime, beforeLimit: 0 }),
      stores.storeAndReadBack({ key: key('S/USDT'), source: 'simulated', candles: range(10, 10, 11), newest: candle(10).openTime, beforeLimit: 0 }),
    ]);
    // The shared statement waits on the other worker's row; then the other worker commits.
    for (let waited = 0; ; waited += 20) {
      const { rows } = await pool.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
      );
      if (rows[0]!.n > 0) break;
      if (waited > 10_000) throw new Error('the batched statement never waited on the uncommitted candle');
      await new Promise((r) => setTimeout(r, 20));
    }
    await other.query('commit');
    other.release();
    const [r, s] = await results;

    // The shared statement failed on the unique key; each watcher was then stored alone.
    expect(sent[0]).toEqual({ many: true, failed: true });
    expect(sent.slice(1)).toEqual([
      { many: false, failed: false },
      { many: false, failed: false },
    ]);
    expect([r.inserted, s.inserted]).toEqual([1, 1]);
    expect((await stored('R/USDT')).slice(-2)).toEqual([
      { i: 10, close: 10.5, source: 'other' },
      { i: 11, close: 11, source: 'simulated' },
    ]);
    expect((await stored('S/USDT')).slice(-1)).toEqual([{ i: 10, close: 11, source: 'simulated' }]);
  });
});
