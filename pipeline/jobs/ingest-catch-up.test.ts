import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createMigratedDatabases } from '../../test/databases';
import { doublingConfigOf, parsePipelineConfig, type PipelineConfig } from '../config';
import type { WatchKey } from '../domain';
import { startPipeline, type RunningPipeline } from '../main';
import { createSimulatedMarket } from '../market/simulated';
import { runIngest } from './ingest.job';
import { enqueueIngest, QUEUES } from './queues';
import { runSignal } from './signals.job';

const MINUTE = 60_000;
const START = Date.UTC(2024, 5, 3, 12, 0, 30);
const LOOKBACK = 250;
const silent = pino({ level: 'silent' });
const key: WatchKey = { symbol: 'BTC/USDT', timeframe: '1m' };

let outage: Awaited<ReturnType<typeof createMigratedDatabases>>;
let onTime: Awaited<ReturnType<typeof createMigratedDatabases>>;
const pools: Db[] = [];
const running: RunningPipeline[] = [];

const configFor = (url: string): PipelineConfig =>
  parsePipelineConfig({
    TRADING_DATABASE_URL: url,
    CANDLE_LOOKBACK: String(LOOKBACK),
    // The reference below ingests by hand without a history walk-forward; compare like with like.
    TRACK_RECORD_HISTORY_CANDLES: '0',
    WORKER_POLL_SECONDS: '0.5',
    PIPELINE_DB_POOL_MAX: '4',
    PGBOSS_POOL_MAX: '4',
  });

async function until(probe: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The rows a signal consumer sees, and the analyses they came from, in candle order. */
async function snapshot(db: Db) {
  const signals = await db.query(
    `select candle_time, direction, score, entry, stop, take_profit, reasons, doubling from public.signals order by candle_time`,
  );
  const indicators = await db.query(`select candle_time, values from public.indicators order by candle_time`);
  const risk = await db.query(`select candle_time, realized_vol, atr_pct, drawdown_pct, volume_z, regime from public.risk_metric order by candle_time`);
  return { signals, indicators, risk };
}

beforeAll(async () => {
  [outage, onTime] = await Promise.all([createMigratedDatabases(), createMigratedDatabases()]);
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await Promise.all([outage?.drop(), onTime?.drop()]);
});

describe('ingest after an outage', () => {
  it('gives each of 4 missed one-minute candles its analysis and its signal, in order, exactly as on-time ingests would', async () => {
    let now = START;
    const clock = () => now;
    const db = createDb({ connectionString: outage.tradingUrl, max: 2 });
    pools.push(db);
    const start = async () => {
      const p = await startPipeline({
        config: configFor(outage.tradingUrl),
        log: silent,
        now: clock,
        market: createSimulatedMarket({ now: clock }),
        schedules: false,
      });
      running.push(p);
      return p;
    };
    const signals = async () => (await db.query<{ n: number }>('select count(*)::int as n from public.signals'))[0]!.n;

    const first = await start();
    await db.query('insert into public.watchers (symbol, timeframe, subscribers) values ($1, $2, 1)', [key.symbol, key.timeframe]);
    await until(async () => (await signals()) === 1, 'the first signal');
    await first.stop();

    // The worker is down while four one-minute candles close; it catches up when it starts again.
    now += 4 * MINUTE;
    const second = await start();
    await until(async () => (await signals()) === 5, 'a signal for each missed candle');
    const caughtUp = await snapshot(db);
    const firstCandle = Math.floor(START / MINUTE) * MINUTE - MINUTE;
    expect(caughtUp.signals.map((s) => (s.candle_time as Date).getTime())).toEqual([0, 1, 2, 3, 4].map((i) => firstCandle + i * MINUTE));

    // A rerun changes nothing.
    const again = await enqueueIngest(second.boss, key);
    await until(async () => (await second.boss.findJobs(QUEUES.ingest, { id: again! }))[0]?.state === 'completed', 'the rerun');
    await new Promise((r) => setTimeout(r, 1000));
    expect(await snapshot(db)).toEqual(caughtUp);

    // No look-ahead: the same rows as a worker that ingested each minute on time.
    const reference = createDb({ connectionString: onTime.tradingUrl, max: 2 });
    pools.push(reference);
    const config = configFor(onTime.tradingUrl);
    const market = createSimulatedMarket({ now: clock });
    for (let i = 0; i <= 4; i++) {
      now = START + i * MINUTE;
      const ingested = await runIngest({ sql: reference.pool, market, log: silent, now: clock, lookback: LOOKBACK, catchUp: 60 }, key);
      await runSignal({ sql: reference.pool, positionPct: config.SIGNAL_POSITION_PCT, doubling: doublingConfigOf(config), horizonCandles: config.TRACK_RECORD_HORIZON_CANDLES }, ingested.followUp!);
    }
    expect(caughtUp).toEqual(await snapshot(reference));
  }, 90_000);

  it('analyses at most the catch-up bound after a long outage: the newest missed candles', async () => {
    let now = START;
    const clock = () => now;
    const db = createDb({ connectionString: onTime.tradingUrl, max: 2 });
    pools.push(db);
    const long: WatchKey = { symbol: 'ETH/USDT', timeframe: '1m' };
    const deps = { sql: db.pool, market: createSimulatedMarket({ now: clock }), log: silent, now: clock, lookback: LOOKBACK, catchUp: 3 };
    const signalDeps = { sql: db.pool, positionPct: 5, doubling: doublingConfigOf(configFor(onTime.tradingUrl)), horizonCandles: 24 };
    await runSignal(signalDeps, (await runIngest(deps, long)).followUp!);

    now += 10 * MINUTE;
    const ingested = await runIngest(deps, long);
    expect(ingested.log).toMatchObject({ fetched: 10, analysed: 3, outcome: 'analysed' });
    const signal = await runSignal(signalDeps, ingested.followUp!);
    expect(signal).toMatchObject({ signals: 3, outcome: 'inserted' });
    const times = await db.query<{ t: Date }>('select candle_time as t from public.signals where symbol = $1 order by candle_time', [long.symbol]);
    const lastClosed = Math.floor(now / MINUTE) * MINUTE - MINUTE;
    const firstCandle = Math.floor(START / MINUTE) * MINUTE - MINUTE;
    expect(times.map((r) => r.t.getTime())).toEqual([firstCandle, lastClosed - 2 * MINUTE, lastClosed - MINUTE, lastClosed]);
  });

  it('stores every candle missed in an outage longer than the lookback, in pages: the series has no hole', async () => {
    let now = START;
    const clock = () => now;
    const db = createDb({ connectionString: onTime.tradingUrl, max: 2 });
    pools.push(db);
    const gapKey: WatchKey = { symbol: 'SOL/USDT', timeframe: '1m' };
    const deps = { sql: db.pool, market: createSimulatedMarket({ now: clock }), log: silent, now: clock, lookback: LOOKBACK, catchUp: 3, maxGap: 5000 };
    await runIngest(deps, gapKey);

    // 20 hours down: 1,200 missed one-minute candles, more than the lookback and than one request returns.
    now += 1200 * MINUTE;
    const ingested = await runIngest(deps, gapKey);
    expect(ingested.log).toMatchObject({ fetched: 1200, analysed: 3, outcome: 'analysed' });
    const times = (
      await db.query<{ t: Date }>('select open_time as t from public.candles where symbol = $1 and timeframe = $2 order by open_time', [gapKey.symbol, gapKey.timeframe])
    ).map((r) => r.t.getTime());
    expect(times).toHaveLength(LOOKBACK + 1200);
    expect(times.every((t, i) => i === 0 || t - times[i - 1]! === MINUTE)).toBe(true);
    expect(times.at(-1)).toBe(Math.floor(now / MINUTE) * MINUTE - MINUTE);
  });
});
