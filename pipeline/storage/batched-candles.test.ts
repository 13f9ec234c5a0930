import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabases } from '../../test/databases';
import { recordingQueryable } from '../../test/recording-queryable';
import type { Candle, WatchKey } from '../domain';
import { candleStore, type StoreRequest } from './candles.store';
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

/** Records each statement sent: whether it was the batched one, and whether it failed. */
const recording = () => recordingQueryable(pool, (text) => ({ many: text.includes('json_to_recordset($1::json) as k(i int') }));

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

/** Every series' counter (sql/trading/0007) against a count of its candles; with nothing deleted, its version is its total. */
async function expectTotalsExact({ deleted = false } = {}) {
  const { rows } = await pool.query<{ symbol: string; counted: number; total: number | null }>(
    `select c.symbol, c.timeframe, count(*)::int as counted, (select s.total::int from public.candle_series s
       where s.symbol = c.symbol and s.timeframe = c.timeframe) as total
     from public.candles c group by c.symbol, c.timeframe order by c.symbol`,
  );
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.filter((r) => r.total !== r.counted)).toEqual([]);
  const orphans = await pool.query(`select * from public.candle_series s where total <> 0 and not exists
    (select 1 from public.candles c where c.symbol = s.symbol and c.timeframe = s.timeframe)`);
  expect(orphans.rows).toEqual([]);
  if (!deleted) expect((await pool.query(`select * from public.candle_series where version <> total`)).rows).toEqual([]);
}

describe("each series' candle total, kept by the database", () => {
  it('equals the count of its candles after batched appends, re-fetched overlaps, gap fills and the fallback stores', async () => {
    // The two tests above ran every kind of insert the ingest makes (and a failed shared statement).
    await expectTotalsExact();
  });

  it('equals the count of its candles when two connections store overlapping candles of one series at once', async () => {
    const first = await pool.connect();
    try {
      await first.query('begin');
      await first.query(
        `insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
         select 'TWO/USDT', '1m', timestamptz 'epoch' + t * interval '1 millisecond', 10, 12, 9, 10, 1, 'first'
         from unnest($1::float8[]) t`,
        [range(0, 9).map((c) => c.openTime)],
      );
      // The second waits on the first's uncommitted candles 5..9 (and its counter row), then skips them.
      const second = candleStore.storeAndReadBack(pool, key('TWO/USDT'), 'second', range(5, 14), candle(14).openTime, 0);
      await new Promise((r) => setTimeout(r, 200));
      await first.query('commit');
      expect((await second).inserted).toBe(5);
    } finally {
      first.release();
    }
    // And two batched statements of different connections over the same series, both gap fills.
    await storeDirectly('PAIR/USDT', [candle(0), candle(9)]);
    const odd = range(1, 8).filter((_, k) => k % 2 === 0);
    const even = range(1, 8).filter((_, k) => k % 2 === 1);
    await Promise.all(
      [odd, even].map((candles) => {
        const items: StoreRequest[] = [
          { key: key('PAIR/USDT'), source: 'simulated', candles, newest: candle(9).openTime, beforeLimit: 0 },
          { key: key('TWO/USDT'), source: 'simulated', candles: [candle(15)], newest: candle(15).openTime, beforeLimit: 0 },
        ];
        // Both append candle 15 of TWO with a plain insert: one fails on the unique key and, as the batcher does, stores each alone.
        return candleStore
          .storeAndReadBackMany(pool, items)
          .catch(() => Promise.all(items.map((r) => candleStore.storeAndReadBack(pool, r.key, r.source, r.candles, r.newest, r.beforeLimit))));
      }),
    );
    expect((await stored('PAIR/USDT')).map((r) => r.i)).toEqual(range(0, 9).map((_, i) => i));
    expect((await stored('TWO/USDT')).map((r) => r.i)).toEqual(range(0, 15).map((_, i) => i));
    await expectTotalsExact();
  });
});

describe("the check of a worker's cached window", () => {
  // Both statements: the batched one and the one-at-a-time one the batcher falls back to.
  const storeVia = {
    batched: async (r: StoreRequest) => (await candleStore.storeAndReadBackMany(pool, [r]))[0]!,
    alone: (r: StoreRequest) => candleStore.storeAndReadBack(pool, r.key, r.source, r.candles, r.newest, r.beforeLimit, r.cached),
  };

  for (const [via, store] of Object.entries(storeVia)) {
    it(`${via}: reads the version from before its own candles, returns the one after them, holds the copy valid until another worker stores a candle, then hands back just the candles appended since when that is all that changed`, async () => {
      const symbol = `CACHE-${via}/USDT`;
      const at = (i: number, version: number, copyNewest = i - 1): StoreRequest => ({
        key: key(symbol),
        source: 'simulated',
        candles: [candle(i)],
        newest: candle(i).openTime,
        beforeLimit: 5,
        // The copy ends with the candle this worker's last ingest of the watcher analysed.
        cached: { version, newest: candle(copyNewest).openTime },
      });
      await storeDirectly(symbol, [...range(0, 4), ...range(6, 9)]); // 9 candles, 5 missing

      // Nothing stored since the copy: valid, and `before` not read. The statement saw 9, not its own 10th candle.
      const steady = await store(at(10, 9));
      expect(steady).toMatchObject({ cachedValid: true, appendedSince: null, inserted: 1, seriesVersion: 10, storedBefore: candle(9).openTime, before: [] });

      // Another worker fills the gap: the copy (taken at 10) is stale, whatever its range, and no append explains it.
      await storeDirectly(symbol, [candle(5)]);
      const afterGapFill = await store(at(11, 10));
      expect(afterGapFill).toMatchObject({ cachedValid: false, appendedSince: null, inserted: 1, seriesVersion: 12 });

      // Another worker appends the next candle first: stale again, by that candle alone, which comes back.
      await storeDirectly(symbol, [candle(12)]);
      const afterAppend = await store(at(13, 12, 11));
      expect(afterAppend).toMatchObject({ cachedValid: false, inserted: 1, seriesVersion: 14, storedBefore: candle(12).openTime, before: [] });
      expect(afterAppend.appendedSince).toEqual([candle(12)]);

      // A re-fetch of a stored candle inserts nothing and changes nothing: still valid.
      expect(await store(at(13, 14))).toMatchObject({ cachedValid: true, appendedSince: null, inserted: 0, seriesVersion: 14 });

      // Appended, this call's own candle among them (stored first by the other worker): all of them, as stored.
      await storeDirectly(symbol, range(14, 15));
      const overlapping = await store(at(15, 14, 13));
      expect(overlapping).toMatchObject({ cachedValid: false, inserted: 0, seriesVersion: 16 });
      expect(overlapping.appendedSince).toEqual([candle(14), candle(15)]);
      // More appended than the window it needs (5): read instead.
      await storeDirectly(symbol, range(16, 21));
      expect(await store(at(22, 16, 15))).toMatchObject({ cachedValid: false, appendedSince: null, inserted: 1, seriesVersion: 23 });
      // Two appended since, both before its own candle: both, in order.
      await storeDirectly(symbol, range(23, 24));
      expect((await store(at(25, 23, 22))).appendedSince).toEqual([candle(23), candle(24)]);
      // A series never stored is at version 0.
      expect(await store({ ...at(0, 0), key: key(`NEW-${via}/USDT`) })).toMatchObject({ cachedValid: true, seriesVersion: 1, storedBefore: null });
      await expectTotalsExact();
    });
  }
});

describe('should candles ever be deleted (nothing deletes them today)', () => {
  it('keeps the total exact through deletes and a truncate, and moves the version on so that an old copy is never taken for current', async () => {
    await storeDirectly('DEL/USDT', range(0, 9));
    await pool.query(`delete from public.candles where symbol = 'DEL/USDT' and open_time < timestamptz 'epoch' + $1::float8 * interval '1 millisecond'`, [
      candle(2).openTime,
    ]);
    await expectTotalsExact({ deleted: true });
    // 10 inserted, 2 deleted, then another worker stores 2: the series holds 10 candles again, as
    // when a copy was taken at version 10, yet the copy is stale (version 14).
    await storeDirectly('DEL/USDT', range(10, 11));
    const { rows: series } = await pool.query(`select total::int, version::int from public.candle_series where symbol = 'DEL/USDT'`);
    expect(series).toEqual([{ total: 10, version: 14 }]);
    const request: StoreRequest = { key: key('DEL/USDT'), source: 'simulated', candles: [candle(12)], newest: candle(12).openTime, beforeLimit: 5, cached: { version: 10 } };
    expect(await candleStore.storeAndReadBack(pool, request.key, request.source, request.candles, request.newest, request.beforeLimit, request.cached)).toMatchObject({
      cachedValid: false,
      seriesVersion: 15,
    });
    await expectTotalsExact({ deleted: true });

    const { rows: before } = await pool.query<{ symbol: string; total: number; version: number }>(
      `select symbol, total::int, version::int from public.candle_series order by symbol`,
    );
    await pool.query('truncate public.candles');
    const { rows: after } = await pool.query<{ symbol: string; total: number; version: number }>(
      `select symbol, total::int, version::int from public.candle_series order by symbol`,
    );
    // Every candle counted as removed: totals 0, versions on by what each series held.
    expect(after).toEqual(before.map((r) => ({ symbol: r.symbol, total: 0, version: r.version + r.total })));
  });
});
