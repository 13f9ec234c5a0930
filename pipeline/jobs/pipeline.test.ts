import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { TIMEFRAME_MS, type Timeframe } from '../../common/symbols';
import { createMigratedDatabases } from '../../test/databases';
import { parsePipelineConfig, type PipelineConfig } from '../config';
import { INDICATOR_NAMES, type WatchKey } from '../domain';
import { startPipeline, type RunningPipeline } from '../main';
import type { MarketSource } from '../market/market-source';
import { sendJson, startLoopback } from '../market/fixtures/loopback-server';
import { createSimulatedMarket } from '../market/simulated';
import { enqueueIngest, QUEUES } from './queues';

// A fixed market clock, 30 s into an hour: the 11:00 1h candle is the newest closed one.
const NOW = Date.UTC(2024, 5, 3, 12, 0, 30);
const LOOKBACK = 300;
const silent = pino({ level: 'silent' });

let dbs: Awaited<ReturnType<typeof createMigratedDatabases>>;
let db: Db;
const running: RunningPipeline[] = [];
const children: ChildProcess[] = [];

function configFor(extra: Record<string, string> = {}): PipelineConfig {
  return parsePipelineConfig({
    TRADING_DATABASE_URL: dbs.tradingUrl,
    CANDLE_LOOKBACK: String(LOOKBACK),
    // The history walk-forward costs CPU per new watcher; the tests that are about it turn it on.
    TRACK_RECORD_HISTORY_CANDLES: '0',
    WORKER_POLL_SECONDS: '0.5',
    WORKER_BATCH_SIZE: '5',
    WORKER_CONCURRENCY: '2',
    PIPELINE_DB_POOL_MAX: '6',
    PGBOSS_POOL_MAX: '6',
    JOB_RETRY_DELAY_SECONDS: '1',
    ...extra,
  });
}

async function start(options: Partial<Parameters<typeof startPipeline>[0]> = {}): Promise<RunningPipeline> {
  const p = await startPipeline({
    config: configFor(),
    log: silent,
    now: () => NOW,
    market: createSimulatedMarket({ now: () => NOW }),
    schedules: false,
    catchUpOnStart: false,
    ...options,
  });
  running.push(p);
  return p;
}

async function addWatcher(key: WatchKey): Promise<void> {
  await db.query('insert into public.watchers (symbol, timeframe, subscribers) values ($1, $2, 1)', [key.symbol, key.timeframe]);
}

async function count(table: string, key: WatchKey): Promise<number> {
  const [row] = await db.query<{ n: number }>(`select count(*)::int as n from public.${table} where symbol = $1 and timeframe = $2`, [
    key.symbol,
    key.timeframe,
  ]);
  return row!.n;
}

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const lastClosed = (tf: Timeframe) => Math.floor(NOW / TIMEFRAME_MS[tf]) * TIMEFRAME_MS[tf] - TIMEFRAME_MS[tf];

beforeAll(async () => {
  dbs = await createMigratedDatabases();
  db = createDb({ connectionString: dbs.tradingUrl, max: 3 });
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  await db?.close();
  await dbs?.drop();
});

describe('signal pipeline', () => {
  it('ingests a new watcher at once: candles, indicators, risk, clusters and a signal, one log line per job', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    await start({ log });
    const key: WatchKey = { symbol: 'BTC/USDT', timeframe: '1h' };
    await addWatcher(key);

    const signal = await until(
      async () => (await db.query<{ candle_time: Date; direction: string; score: number }>('select * from public.signals where symbol = $1', [key.symbol]))[0],
      'the signal',
    );
    expect(signal.candle_time.getTime()).toBe(lastClosed('1h'));
    expect(['long', 'short', 'flat']).toContain(signal.direction);

    expect(await count('candles', key)).toBe(LOOKBACK);
    const [newest] = await db.query<{ open_time: Date; source: string }>(
      'select open_time, source from public.candles where symbol = $1 order by open_time desc limit 1',
      [key.symbol],
    );
    expect(newest).toEqual({ open_time: new Date(lastClosed('1h')), source: 'simulated' });

    const [indicators] = await db.query<{ candle_time: Date; values: Record<string, number | null> }>(
      'select candle_time, values from public.indicators where symbol = $1',
      [key.symbol],
    );
    expect(indicators!.candle_time.getTime()).toBe(lastClosed('1h'));
    expect(Object.keys(indicators!.values).sort()).toEqual([...INDICATOR_NAMES].sort());
    // 300 candles warm every indicator up, EMA-200 included.
    expect(Object.values(indicators!.values).every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true);

    const [risk] = await db.query<{ candle_time: Date; realized_vol: number; regime: string }>('select * from public.risk_metric where symbol = $1', [key.symbol]);
    expect(risk!.candle_time.getTime()).toBe(lastClosed('1h'));
    expect(risk!.realized_vol).toBeGreaterThan(0);
    const clusters = await db.query<{ source: string; candle_time: Date }>('select source, candle_time from public.liq_clusters where symbol = $1', [key.symbol]);
    expect(clusters.length).toBeGreaterThan(0);
    expect(clusters.every((c) => c.source === 'estimated' && c.candle_time.getTime() === lastClosed('1h'))).toBe(true);

    const jobLines = lines.filter((l) => l.msg === 'job done');
    for (const queue of [QUEUES.ingest, QUEUES.signals]) {
      const line = jobLines.find((l) => l.queue === queue);
      expect(line, queue).toMatchObject({ symbol: key.symbol, timeframe: key.timeframe });
      expect(typeof line!.job_ms).toBe('number');
      expect('queue_depth' in line!).toBe(true);
    }
  });

  it('gives a new watcher a track record from its first ingest: history walked forward, rollups against holding and chance, the edge on its signal', async () => {
    const HISTORY = 1600;
    await start({ config: configFor({ TRACK_RECORD_HISTORY_CANDLES: String(HISTORY) }) });
    const key: WatchKey = { symbol: 'LINK/USDT', timeframe: '1h' };
    await addWatcher(key);
    const signal = await until(
      async () => (await db.query<{ edge: Record<string, unknown> | null }>('select edge from public.signals where symbol = $1', [key.symbol]))[0],
      'the first signal',
    );
    // The history the source has, beyond the indicators' lookback, and a decision for each of its candles after the warm-up but the newest.
    expect(await count('candles', key)).toBe(HISTORY);
    // …plus the call behind a signal withheld for want of an edge (SIGNAL_PUBLISH=edge, the default; docs/STRATEGY.md).
    const [held] = await db.query<{ n: number }>(
      `select count(*)::int as n from public.signals where symbol = $1 and timeframe = $2 and reasons @> '[{"indicator": "edge"}]'`,
      [key.symbol, key.timeframe],
    );
    expect(await count('history_decisions', key)).toBe(HISTORY - 600 + held!.n);
    const rows = await db.query<{
      window_name: string;
      trades: number;
      wins: number;
      win_rate: number;
      win_rate_low: number;
      win_rate_high: number;
      buy_hold_return_pct: number;
      coin_flip_draws: number;
      coin_flip_median_pct: number;
      coin_flip_p5_pct: number;
      coin_flip_p95_pct: number;
      coin_flip_percentile: number;
      edge: string;
      equity: Array<[number, number, number]>;
    }>('select * from public.track_record where symbol = $1 and timeframe = $2 order by window_name', [key.symbol, key.timeframe]);
    expect(rows.map((r) => r.window_name)).toEqual(['30d', '7d', 'all']);
    const all = rows.find((r) => r.window_name === 'all')!;
    expect(all.trades).toBeGreaterThan(0);
    expect(all.win_rate_low).toBeLessThanOrEqual(all.win_rate);
    expect(all.win_rate).toBeLessThanOrEqual(all.win_rate_high);
    expect(all.coin_flip_draws).toBe(500);
    expect(all.coin_flip_p5_pct).toBeLessThanOrEqual(all.coin_flip_median_pct);
    expect(all.coin_flip_median_pct).toBeLessThanOrEqual(all.coin_flip_p95_pct);
    expect(all.coin_flip_percentile).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(all.buy_hold_return_pct)).toBe(true);
    expect(['positive', 'none', 'negative']).toContain(all.edge);
    expect(all.equity.length).toBeGreaterThan(10);
    // The newest candle's live signal carries the edge the history measured.
    const [stored] = await db.query<{ expectancy_pct: number; coin_flip_median_pct: number; coin_flip_percentile: number }>(
      `select expectancy_pct, coin_flip_median_pct, coin_flip_percentile from public.track_record where symbol = $1 and window_name = 'all'`,
      [key.symbol],
    );
    expect(signal.edge).toEqual({
      verdict: all.edge,
      trades: all.trades,
      expectancyPct: stored!.expectancy_pct,
      coinFlipMedianPct: stored!.coin_flip_median_pct,
      percentile: stored!.coin_flip_percentile,
      // The 1,001 candles from the first decision (after the 600-candle warm-up) to the newest.
      window: 'the last 1,001 hours',
    });
  });

  it('is idempotent: the same ingest again, and a duplicate send, change nothing', async () => {
    const p = await start();
    const key: WatchKey = { symbol: 'ETH/USDT', timeframe: '15m' };
    await addWatcher(key);
    await until(async () => (await count('signals', key)) === 1, 'the first signal');
    const before = await Promise.all(['candles', 'indicators', 'risk_metric', 'liq_clusters', 'signals'].map((t) => count(t, key)));

    // Deferred a second, so the first is surely still queued when the duplicate arrives.
    const first = await enqueueIngest(p.boss, key, { startAfter: 1 });
    const duplicate = await enqueueIngest(p.boss, key, { startAfter: 1 });
    expect(first).not.toBeNull();
    // Same singleton key while the first is still queued: collapsed.
    expect(duplicate).toBeNull();
    await until(async () => (await p.boss.findJobs(QUEUES.ingest, { id: first! }))[0]?.state === 'completed', 'the repeated ingest');
    // Let a (wrongly) enqueued compute_signals run too, if there were one.
    await new Promise((r) => setTimeout(r, 1500));

    const after = await Promise.all(['candles', 'indicators', 'risk_metric', 'liq_clusters', 'signals'].map((t) => count(t, key)));
    expect(after).toEqual(before);
    const signalJobs = await p.boss.findJobs(QUEUES.signals, { key: `${key.symbol}|${key.timeframe}` });
    expect(signalJobs).toHaveLength(1);
  });

  it('runs several workers at once without doing any watcher twice', async () => {
    const fetches = new Map<string, number>();
    const simulated = createSimulatedMarket({ now: () => NOW });
    const counting: MarketSource = {
      name: 'simulated',
      fetchCandles: async (symbol, timeframe, options) => {
        const k = `${symbol}|${timeframe}`;
        fetches.set(k, (fetches.get(k) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 20));
        return simulated.fetchCandles(symbol, timeframe, options);
      },
    };
    await Promise.all([start({ market: counting }), start({ market: counting })]);
    const keys: WatchKey[] = Array.from({ length: 24 }, (_, i) => ({ symbol: `C${String(i).padStart(2, '0')}/USDT`, timeframe: '5m' }));
    await db.query(
      `insert into public.watchers (symbol, timeframe, subscribers) select s, '5m', 1 from unnest($1::text[]) s`,
      [keys.map((k) => k.symbol)],
    );
    await until(
      async () => (await db.query<{ n: number }>(`select count(*)::int as n from public.signals where timeframe = '5m' and symbol like 'C%'`))[0]!.n === keys.length,
      'a signal per watcher',
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(fetches.size).toBe(keys.length);
    expect([...fetches.values()].every((n) => n === 1)).toBe(true);
    const perKey = await db.query<{ n: number }>(
      `select count(*)::int as n from public.signals where timeframe = '5m' and symbol like 'C%' group by symbol`,
    );
    expect(perKey.every((r) => r.n === 1)).toBe(true);
  });

  it('fans out ingest to active watchers on the schedule, and ingests a watcher the moment it becomes active', async () => {
    const keys: WatchKey[] = [
      { symbol: 'ADA/USDT', timeframe: '4h' },
      { symbol: 'XRP/USDT', timeframe: '4h' },
      { symbol: 'DOT/USDT', timeframe: '4h' },
    ];
    // Created while no worker listens: only the schedule can find them.
    await db.query(
      `insert into public.watchers (symbol, timeframe, subscribers) values ('ADA/USDT', '4h', 2), ('XRP/USDT', '4h', 1), ('DOT/USDT', '4h', 0)`,
    );
    const p = await start({
      schedules: true,
      config: configFor({ INGEST_CRON: '*/7 * * * *', TRACK_RECORD_CRON: '15 */2 * * *', TRACK_RECORD_HISTORY_CANDLES: '700' }),
    });
    const schedules = await p.boss.getSchedules();
    expect(schedules.map((x) => [x.name, x.cron]).sort()).toEqual([
      [QUEUES.scheduleIngest, '*/7 * * * *'],
      [QUEUES.scheduleTrackRecord, '15 */2 * * *'],
    ]);

    await p.boss.send(QUEUES.scheduleIngest, {});
    await until(async () => (await count('signals', keys[0]!)) === 1 && (await count('signals', keys[1]!)) === 1, 'the scheduled ingests');
    await new Promise((r) => setTimeout(r, 500));
    expect(await count('candles', keys[2]!)).toBe(0);

    // 0 → 1 subscriber: the trigger notifies, the worker enqueues without waiting for the cron.
    await db.query(`update public.watchers set subscribers = 1 where symbol = 'DOT/USDT' and timeframe = '4h'`);
    await until(async () => (await count('signals', keys[2]!)) === 1, 'the reactivated watcher');

    // The track-record fan-out recomputes every active watcher's rollups (the first ingest made them already).
    await db.query(`update public.watchers set subscribers = 0 where symbol = 'XRP/USDT' and timeframe = '4h'`);
    await db.query(`delete from public.track_record where timeframe = '4h'`);
    await p.boss.send(QUEUES.scheduleTrackRecord, {});
    for (const k of [keys[0]!, keys[2]!]) await until(async () => (await count('track_record', k)) === 3, `the track record of ${k.symbol}`);
    await new Promise((r) => setTimeout(r, 500));
    expect(await count('track_record', keys[1]!)).toBe(0);
  });

  it('retries a failing watcher with backoff, dead-letters it, and keeps the others going', async () => {
    const simulated = createSimulatedMarket({ now: () => NOW });
    const attempts: number[] = [];
    const flaky: MarketSource = {
      name: 'simulated',
      fetchCandles: async (symbol, timeframe, options) => {
        if (symbol === 'BAD/USDT') {
          attempts.push(Date.now());
          throw new Error('exchange down');
        }
        return simulated.fetchCandles(symbol, timeframe, options);
      },
    };
    const p = await start({ market: flaky, config: configFor({ JOB_RETRY_LIMIT: '2', JOB_RETRY_DELAY_SECONDS: '1' }) });
    const good: WatchKey = { symbol: 'GOOD/USDT', timeframe: '1m' };
    await addWatcher({ symbol: 'BAD/USDT', timeframe: '1m' });
    await addWatcher(good);
    await until(async () => (await count('signals', good)) === 1, 'the healthy watcher');

    const [dead] = await until(async () => {
      const jobs = await p.boss.findJobs<{ symbol: string }>(`${QUEUES.ingest}_dlq`, { data: { symbol: 'BAD/USDT' } });
      return jobs.length ? jobs : undefined;
    }, 'the dead letter', 30_000);
    expect(dead!.data).toEqual({ symbol: 'BAD/USDT', timeframe: '1m' });
    // The first attempt and two retries. Exponential backoff from 1 s: the first pause is 1–2 s,
    // the second 2–4 s (a fixed 1 s delay would make both ~1 s).
    expect(attempts).toHaveLength(3);
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(900);
    expect(attempts[2]! - attempts[1]!).toBeGreaterThanOrEqual(1900);
    expect(await count('candles', { symbol: 'BAD/USDT', timeframe: '1m' })).toBe(0);
  }, 60_000);

  it('does not let a slow symbol hold back its batch-mates: their signals are out while it still waits on its market', async () => {
    const simulated = createSimulatedMarket({ now: () => NOW });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const slowMarket: MarketSource = {
      name: 'simulated',
      fetchCandles: async (symbol, timeframe, options) => {
        if (symbol === 'SLOW/USDT') await released;
        return simulated.fetchCandles(symbol, timeframe, options);
      },
    };
    const keys: WatchKey[] = ['SLOW/USDT', 'FAST1/USDT', 'FAST2/USDT', 'FAST3/USDT'].map((symbol) => ({ symbol, timeframe: '1h' }));
    for (const key of keys) await addWatcher(key);
    // One worker, one batch: every active watcher's ingest (these four and the earlier tests' watchers)
    // is enqueued at start and fetched together. The batch must hold them all: pg-boss hands out jobs
    // enqueued together in no set order, so with a smaller batch the slow one could wait for the next.
    const p = await start({ market: slowMarket, catchUpOnStart: true, config: configFor({ WORKER_BATCH_SIZE: '50', WORKER_CONCURRENCY: '1' }) });
    expect((await db.query<{ n: number }>('select count(*)::int as n from public.watchers where active'))[0]!.n).toBeLessThanOrEqual(50);
    try {
      for (const key of keys.slice(1)) await until(async () => (await count('signals', key)) === 1, `the signal of ${key.symbol}`);
      expect(await count('signals', keys[0]!)).toBe(0);
      // The fast ones' signals came from their own batch while the slow one was still in it.
      const active = await p.boss.findJobs<{ symbol: string }>(QUEUES.ingest, { data: { symbol: 'SLOW/USDT' } });
      expect(active.map((j) => j.state)).toEqual(['active']);
    } finally {
      release();
    }
    await until(async () => (await count('signals', keys[0]!)) === 1, 'the slow symbol, once its market answers');
  }, 60_000);

  it('catches up on watchers activated while its LISTEN connection was down', async () => {
    await start();
    const [killed] = await db.query<{ n: number }>(
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
       where application_name = 'zmarty-watcher-listener' and datname = current_database()`,
    );
    expect(killed!.n).toBe(1);
    const key: WatchKey = { symbol: 'LATE/USDT', timeframe: '1h' };
    await addWatcher(key);
    await until(async () => (await count('signals', key)) === 1, 'the watcher activated during the outage');
  });

  it('retries a job whose worker was killed mid-job on another worker, without duplicates', async () => {
    const env = {
      ...process.env,
      TRADING_DATABASE_URL: dbs.tradingUrl,
      FIXTURE_NOW: String(NOW),
      CANDLE_LOOKBACK: String(LOOKBACK),
      TRACK_RECORD_HISTORY_CANDLES: '0',
      JOB_EXPIRE_SECONDS: '2',
      JOB_MONITOR_SECONDS: '1',
      JOB_RETRY_DELAY_SECONDS: '1',
      WORKER_POLL_SECONDS: '0.5',
      LOG_LEVEL: 'silent',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'blocking-worker.fixture.ts')], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await until(async () => out.includes('READY'), 'the child worker', 30_000);

    const key: WatchKey = { symbol: 'SOL/USDT', timeframe: '1h' };
    await addWatcher(key);
    await until(async () => out.includes('BLOCKED'), 'the child to block mid-ingest');
    // The child already stored the candles; its analysis and signal never happened.
    expect(await count('candles', key)).toBe(LOOKBACK);
    expect(await count('indicators', key)).toBe(0);
    const [stuck] = await db.query<{ id: string; state: string }>(
      `select id, state from pgboss.job where name = $1 and singleton_key = $2`,
      [QUEUES.ingest, `${key.symbol}|${key.timeframe}`],
    );
    expect(stuck!.state).toBe('active');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const killedAt = Date.now();

    // Only the settings: JOB_MONITOR_SECONDS must reach pg-boss, whose own 60 s default would miss the bound below.
    await start({ config: configFor({ JOB_EXPIRE_SECONDS: '2', JOB_MONITOR_SECONDS: '1' }) });
    await until(async () => (await count('signals', key)) === 1, 'the retried job to finish', 30_000);
    // Expiry (2 s from the job's start) + one monitor pass (1 s) + the retry delay (1–2 s) + polling.
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    const [job] = await db.query<{ state: string; retry_count: number }>('select state, retry_count from pgboss.job where id = $1', [stuck!.id]);
    expect(job).toEqual({ state: 'completed', retry_count: 1 });

    await new Promise((r) => setTimeout(r, 1000));
    expect(await count('signals', key)).toBe(1);
    expect(await count('indicators', key)).toBe(1);
    expect(await count('candles', key)).toBe(LOOKBACK);
  }, 90_000);

  it("honours a market provider's Retry-After: the watcher's ingest waits out the pause, then runs, without spending a retry", async () => {
    // Binance on loopback: "too many requests, retry after 2 s" first, then klines ending in the open 12:00 candle.
    const binance = await startLoopback((req, res) => {
      if (binance.requests.length === 1) {
        sendJson(res, 429, { code: -1003, msg: 'Too many requests; current limit of IP is 6000 request weight per 1 MINUTE.' }, { 'retry-after': '2' });
        return;
      }
      const limit = Number(req.query.get('limit'));
      const open = Math.floor(NOW / TIMEFRAME_MS['1h']) * TIMEFRAME_MS['1h'];
      const rows = Array.from({ length: limit }, (_, k) => {
        const t = open - (limit - 1 - k) * TIMEFRAME_MS['1h'];
        const close = 60_000 + 800 * Math.sin(k / 7) + 5 * k;
        return [t, (close - 20).toFixed(2), (close + 90).toFixed(2), (close - 110).toFixed(2), close.toFixed(2), '812.5', t + TIMEFRAME_MS['1h'] - 1, '0', 1, '0', '0', '0'];
      });
      sendJson(res, 200, rows);
    });
    try {
      const lines: Array<Record<string, unknown>> = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
      await start({ log, market: undefined, config: configFor({ MARKET_DATA: 'binance', BINANCE_BASE_URL: binance.url }) });
      const key: WatchKey = { symbol: 'XRP/USDT', timeframe: '1h' };
      await addWatcher(key);

      await until(async () => (await count('signals', key)) === 1, "the signal once the pause is over", 20_000);
      expect(binance.requests).toHaveLength(2);
      expect(binance.requests[1]!.at - binance.requests[0]!.at).toBeGreaterThanOrEqual(1900);
      expect(await count('candles', key)).toBe(LOOKBACK);
      expect(lines.find((l) => l.queue === QUEUES.ingest && l.outcome === 'deferred')).toMatchObject({ symbol: key.symbol, msg: 'job done' });
      const jobs = await db.query<{ state: string; retry_count: number }>(
        `select state, retry_count from pgboss.job where name = $1 and singleton_key = $2`,
        [QUEUES.ingest, `${key.symbol}|${key.timeframe}`],
      );
      expect(jobs).toEqual([
        { state: 'completed', retry_count: 0 },
        { state: 'completed', retry_count: 0 },
      ]);
    } finally {
      await binance.close();
      await db.query('delete from public.market_pauses');
    }
  });

  it('dead-letters at once an ingest of a pair the market does not list, instead of asking again JOB_RETRY_LIMIT times', async () => {
    const binance = await startLoopback((_req, res) => sendJson(res, 400, { code: -1121, msg: 'Invalid symbol.' }));
    try {
      const lines: Array<Record<string, unknown>> = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
      const p = await start({ log, market: undefined, config: configFor({ MARKET_DATA: 'binance', BINANCE_BASE_URL: binance.url }) });
      const key: WatchKey = { symbol: 'NOPE/USDT', timeframe: '1h' };
      await addWatcher(key);

      const [dead] = await until(async () => {
        const jobs = await p.boss.findJobs<{ symbol: string }>(`${QUEUES.ingest}_dlq`, { data: { symbol: key.symbol } });
        return jobs.length ? jobs : undefined;
      }, 'the dead letter');
      expect(dead!.data).toEqual(key);
      // With JOB_RETRY_DELAY_SECONDS=1 the retries would have asked again within these 3 s.
      await new Promise((r) => setTimeout(r, 3000));
      expect(binance.requests).toHaveLength(1);
      expect(lines.find((l) => l.msg === 'job failed for good, dead-lettered')).toMatchObject({ symbol: key.symbol, err: expect.stringContaining('Invalid symbol') });
    } finally {
      await binance.close();
    }
  });
});
