import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db, type Queryable } from '../../common/db';
import { TIMEFRAME_MS } from '../../common/symbols';
import { createMigratedDatabases } from '../../test/databases';
import type { WatchKey } from '../domain';
import { createIndicatorCache } from '../indicators/indicator-window';
import type { MarketSource } from '../market/market-source';
import { createSimulatedMarket } from '../market/simulated';
import { batchedStores, directStores, type PipelineStores } from '../storage/stores';
import { createLatestCache, createWindowCache, lastClosedOpenTime, runIngest, type IngestDeps } from './ingest.job';
import { runSignal } from './signals.job';
import { ensureHistory, type TrackRecordDeps } from './track-record.job';

// Several symbols per job: the worker runs a pg-boss batch's jobs at once over batchedStores, which
// coalesces their statements. These tests hold it to one-at-a-time processing, row for row.

const START = Date.UTC(2024, 5, 3, 12, 0, 30);
const LOOKBACK = 300;
const HISTORY = 700;
const silent = pino({ level: 'silent' });
const KEYS: WatchKey[] = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT', 'DOGE/USDT', 'ADA/USDT', 'LINK/USDT', 'DOT/USDT'].map(
  (symbol, i) => ({ symbol, timeframe: i % 3 === 0 ? '5m' : '1m' }),
);

let oneAtATime: Awaited<ReturnType<typeof createMigratedDatabases>>;
let batched: Awaited<ReturnType<typeof createMigratedDatabases>>;
let isolation: Awaited<ReturnType<typeof createMigratedDatabases>>;
const pools: Db[] = [];

function depsFor(
  db: Db,
  stores: PipelineStores,
  now: () => number,
  market: MarketSource = createSimulatedMarket({ now }),
  caches: Pick<IngestDeps, 'latest' | 'windows' | 'indicators'> = {},
) {
  const ingest: IngestDeps = { sql: db.pool, stores, market, log: silent, now, lookback: LOOKBACK, historyCandles: HISTORY, catchUp: 60, ...caches };
  const track: TrackRecordDeps = {
    sql: db.pool,
    stores,
    log: silent,
    now,
    lookback: LOOKBACK,
    historyCandles: HISTORY,
    settings: { feePct: 0.1, horizonCandles: 24, draws: 200, seed: 7 },
  };
  const signal = { sql: db.pool, stores, positionPct: 5, horizonCandles: 24, doubling: { scoreDelta: 10, maxRealizedVol: 1.2, cooldownCandles: 4, maxPositionPct: 10 } };
  return { ingest, track, signal };
}

/** `db`'s pool as a Queryable that keeps the text of every statement it runs. */
function recorded(db: Db) {
  const statements: string[] = [];
  const counted: Queryable = {
    query: (text, values) => {
      statements.push(text);
      return db.pool.query(text, values);
    },
  };
  return { statements, counted };
}

/** What one ingest job and the signal job it asks for do, in the worker's order. */
async function cycle(deps: ReturnType<typeof depsFor>, key: WatchKey) {
  const ingested = await runIngest(deps.ingest, key);
  await ensureHistory(deps.track, key);
  if (ingested.followUp) await runSignal(deps.signal, ingested.followUp);
}

/** Every row the pipeline writes, without the columns that only say when or in which order (ids, computed_at). */
async function snapshot(db: Db) {
  const order = 'order by symbol, timeframe';
  return {
    candles: await db.query(`select symbol, timeframe, open_time, open, high, low, close, volume, source from public.candles ${order}, open_time`),
    indicators: await db.query(`select symbol, timeframe, candle_time, values from public.indicators ${order}, candle_time`),
    risk: await db.query(
      `select symbol, timeframe, candle_time, realized_vol, atr_pct, drawdown_pct, volume_z, regime from public.risk_metric ${order}, candle_time`,
    ),
    clusters: await db.query(
      `select symbol, timeframe, candle_time, source, side, price_low, price_high, strength from public.liq_clusters
       ${order}, candle_time, price_low, side, price_high, strength`,
    ),
    signals: await db.query(
      `select symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons, doubling, edge from public.signals ${order}, candle_time`,
    ),
    history: await db.query(`select symbol, timeframe, candle_time, direction, score, stop, take_profit from public.history_decisions ${order}, candle_time`),
    trackRecord: await db.query(
      `select symbol, timeframe, window_name, trades, wins, win_rate, expectancy_pct, total_return_pct, buy_hold_return_pct, edge, equity
       from public.track_record ${order}, window_name`,
    ),
  };
}

beforeAll(async () => {
  [oneAtATime, batched, isolation] = await Promise.all([createMigratedDatabases(), createMigratedDatabases(), createMigratedDatabases()]);
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await Promise.all([oneAtATime?.drop(), batched?.drop(), isolation?.drop()]);
});

describe('several symbols per job', () => {
  it('stores exactly what one-at-a-time processing stores: candles, indicators, risk, clusters, signals, history and track record', async () => {
    const dbA = createDb({ connectionString: oneAtATime.tradingUrl, max: 4 });
    const dbB = createDb({ connectionString: batched.tradingUrl, max: 4 });
    pools.push(dbA, dbB);
    let now = START;
    const clock = () => now;
    const { statements, counted } = recorded(dbB);
    // The reference reads everything from the database; the batched side runs as the worker does, with its caches.
    const windows = createWindowCache();
    const a = depsFor(dbA, directStores(dbA.pool), clock);
    const b = depsFor(dbB, batchedStores(counted), clock, undefined, { latest: createLatestCache(), windows, indicators: createIndicatorCache() });

    // First ingest (history walk-forward included), one candle later, an outage of five minutes (catch-up), one more.
    for (const step of [0, 1, 5, 6]) {
      now = START + step * 60_000;
      if (step === 6) {
        // A copy that no longer matches what is stored, taken before another worker's ingest filled a
        // gap (the series was then one version older): the database's version must catch it, and the
        // window be read instead, or the analyses differ from the reference's.
        const held = windows.get(KEYS[1]!)!;
        expect(held.version).toBeGreaterThan(0);
        windows.set(KEYS[1]!, [...held.candles.slice(0, 100), ...held.candles.slice(101)], held.version! - 1);
      }
      for (const key of KEYS) await cycle(a, key);
      const before = statements.length;
      await Promise.all(KEYS.map((key) => cycle(b, key)));
      // One statement per step of the path for all eight watchers, not eight.
      if (step === 1) expect(statements.length - before).toBeLessThanOrEqual(12);
    }

    const [expected, actual] = await Promise.all([snapshot(dbA), snapshot(dbB)]);
    expect(expected.signals.length).toBeGreaterThanOrEqual(KEYS.length * 4);
    expect(expected.history.length).toBeGreaterThan(0);
    expect(expected.trackRecord.length).toBeGreaterThan(0);
    expect(expected.clusters.length).toBeGreaterThan(0);
    for (const table of Object.keys(expected) as Array<keyof typeof expected>) expect(actual[table], table).toEqual(expected[table]);
    // The catch-up analysed each missed one-minute candle in order, in the batch too.
    const minutes = KEYS.filter((k) => k.timeframe === '1m').length;
    expect(actual.signals.filter((s) => s.timeframe === '1m')).toHaveLength(minutes * (1 + 1 + 4 + 1));
    expect(TIMEFRAME_MS['1m']).toBe(60_000);
  }, 240_000);

  it('two workers taking turns on the same watchers, each with its own caches, store what one worker stores, and read no window back once each has seen them', async () => {
    const [reference, shared] = await Promise.all([createMigratedDatabases(), createMigratedDatabases()]);
    const dbs: Db[] = [];
    try {
      const dbR = createDb({ connectionString: reference.tradingUrl, max: 4 });
      const dbS = createDb({ connectionString: shared.tradingUrl, max: 4 });
      dbs.push(dbR, dbS);
      let now = START;
      const clock = () => now;
      const { statements, counted } = recorded(dbS);
      const one = depsFor(dbR, directStores(dbR.pool), clock);
      const workers = [0, 1].map(() =>
        depsFor(dbS, batchedStores(counted), clock, undefined, { latest: createLatestCache(), windows: createWindowCache(), indicators: createIndicatorCache() }),
      );
      // A window read on its own (candleStore.windowMany): what a worker does when its copy is stale for a reason it cannot see.
      const windowReads = () => statements.filter((text) => text.includes('up_to float8')).length;
      const keys = KEYS.filter((k) => k.timeframe === '1m').slice(0, 4);
      for (let step = 0; step < 6; step++) {
        now = START + step * 60_000;
        for (const key of keys) await cycle(one, key);
        // Each watcher goes to the other worker than last time: each worker's copy misses the other's candle.
        const readsBefore = windowReads();
        await Promise.all(keys.map((key, i) => cycle(workers[(step + i) % 2]!, key)));
        // From its second turn on, a worker is told the candles the other appended instead of reading its window back,
        // and its copy stays vouched for by the series' version (else the next turn would read it back in its statement).
        if (step < 2) continue;
        expect(windowReads() - readsBefore, `step ${step}`).toBe(0);
        keys.forEach((key, i) => expect(workers[(step + i) % 2]!.ingest.windows!.get(key)?.version, `${key.symbol} step ${step}`).toBeDefined());
      }
      const [expected, actual] = await Promise.all([snapshot(dbR), snapshot(dbS)]);
      expect(expected.indicators.length).toBe(keys.length * 6);
      for (const table of Object.keys(expected) as Array<keyof typeof expected>) expect(actual[table], table).toEqual(expected[table]);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
      await Promise.all([reference.drop(), shared.drop()]);
    }
  }, 120_000);

  it('does not vouch for its copy when a candle another worker stored first differs from the one it fetched', async () => {
    const own = await createMigratedDatabases();
    const db = createDb({ connectionString: own.tradingUrl, max: 4 });
    try {
      let now = START;
      const clock = () => now;
      const caches = () => ({ latest: createLatestCache(), windows: createWindowCache(), indicators: createIndicatorCache() });
      const market = createSimulatedMarket({ now: clock });
      const worker = depsFor(db, batchedStores(db.pool), clock, market, caches());
      // Another worker whose source gives other values for the same candles.
      const other = depsFor(db, batchedStores(db.pool), clock, createSimulatedMarket({ now: clock, seed: 43 }), caches());
      const key = KEYS.find((k) => k.timeframe === '1m')!;
      await cycle(worker, key);
      expect(worker.ingest.windows!.get(key)?.version).toBeDefined();
      now += 60_000;
      await cycle(other, key);
      const next = market.candleAt(key.symbol, key.timeframe, lastClosedOpenTime(key.timeframe, now));
      now += 60_000;
      await cycle(worker, key);
      // Its window holds its own values for the other's candle, not the stored ones: not the series' newest candles.
      const held = worker.ingest.windows!.get(key)!;
      expect(held.candles.find((c) => c.openTime === next.openTime)?.close).toBe(next.close);
      expect(held.version).toBeUndefined();
    } finally {
      await db.close();
      await own.drop();
    }
  });

  it('fails only the symbol at fault: a statement rejected for one watcher, or its market, leaves its batch-mates done', async () => {
    const db = createDb({ connectionString: isolation.tradingUrl, max: 4 });
    pools.push(db);
    // A real database failure for one symbol, inside the statement its batch-mates share.
    await db.query(`create function public.reject_bad() returns trigger language plpgsql as $$
      begin if new.symbol = 'BAD/USDT' then raise exception 'indicators rejected for %', new.symbol; end if; return new; end $$`);
    await db.query('create trigger reject_bad before insert on public.indicators for each row execute function public.reject_bad()');
    const now = () => START;
    const simulated = createSimulatedMarket({ now });
    const market: MarketSource = {
      name: 'simulated',
      fetchCandles: async (symbol, timeframe, options) => {
        if (symbol === 'DOWN/USDT') throw new Error('exchange down');
        return simulated.fetchCandles(symbol, timeframe, options);
      },
    };
    const deps = depsFor(db, batchedStores(db.pool), now, market);
    const keys: WatchKey[] = ['A1/USDT', 'BAD/USDT', 'A2/USDT', 'DOWN/USDT', 'A3/USDT'].map((symbol) => ({ symbol, timeframe: '1m' }));

    const outcomes = await Promise.allSettled(keys.map((key) => cycle(deps, key)));

    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toContain('indicators rejected for BAD/USDT');
    expect(String((outcomes[3] as PromiseRejectedResult).reason)).toContain('exchange down');
    const signalled = await db.query<{ symbol: string }>('select symbol from public.signals order by symbol');
    expect(signalled.map((r) => r.symbol)).toEqual(['A1/USDT', 'A2/USDT', 'A3/USDT']);
    // The failed statement left nothing half-written for the bad symbol: its analysis is all or nothing.
    const [bad] = await db.query<{ n: number }>(
      `select (select count(*) from public.risk_metric where symbol = 'BAD/USDT') + (select count(*) from public.liq_clusters where symbol = 'BAD/USDT') as n`,
    );
    expect(Number(bad!.n)).toBe(0);
  }, 120_000);
});
