import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { TIMEFRAME_MS } from '../../common/symbols';
import { createMigratedDatabases } from '../../test/databases';
import { runBacktest } from '../backtest/run-backtest';
import type { TradeSignal } from '../backtest/simulate';
import type { DoublingDecision, WatchKey } from '../domain';
import { INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { createSimulatedMarket } from '../market/simulated';
import { runIngest } from './ingest.job';
import { runSignal } from './signals.job';
import { ensureHistory, runTrackRecord, type TrackRecordDeps } from './track-record.job';

const log = pino({ level: 'silent' });
const HOUR = TIMEFRAME_MS['1h'];
const START = Date.UTC(2024, 2, 1, 0, 0, 30);
const STEPS = 48;
const LOOKBACK = 250;
const HISTORY = 900;
const HORIZON = 12;
const settings = { feePct: 0.1, horizonCandles: HORIZON, draws: 300, seed: 7 };

let dbs: Awaited<ReturnType<typeof createMigratedDatabases>>;
let db: Db;

beforeAll(async () => {
  dbs = await createMigratedDatabases();
  db = createDb({ connectionString: dbs.tradingUrl, max: 4 });
});

afterAll(async () => {
  await db?.close();
  await dbs?.drop();
});

type Row = { window_name: string } & Record<string, unknown>;
const rollups = () => db.query<Row>('select * from public.track_record order by window_name').then((rows) => rows.map(({ computed_at: _, ...r }) => r));

describe('track record: history walked forward, then live signals, rolled up per window', () => {
  it('counts positions not signals, prefers live signals, matches a backtest of the same decisions, and is the same on every rerun', async () => {
    let now = START;
    const clock = () => now;
    const market = createSimulatedMarket({ now: clock });
    const key: WatchKey = { symbol: 'BTC/USDT', timeframe: '1h' };
    const ingestDeps = { sql: db.pool, market, log, now: clock, lookback: LOOKBACK, historyCandles: HISTORY };
    const track: TrackRecordDeps = { sql: db.pool, log, now: clock, settings, lookback: LOOKBACK, historyCandles: HISTORY };
    const signalDeps = { sql: db.pool, positionPct: 5, doubling: { scoreDelta: 5, maxRealizedVol: 5, cooldownCandles: 0, maxPositionPct: 20 }, horizonCandles: HORIZON };

    for (let i = 0; i < STEPS; i++) {
      const ingested = await runIngest(ingestDeps, key);
      const history = await ensureHistory(track, key);
      // Only the first ingest walks the history forward.
      if (i === 0) expect(history).toMatchObject({ history: HISTORY, decisions: HISTORY - INDICATOR_WARMUP_CANDLES });
      else expect(history).toBeNull();
      expect((await runSignal(signalDeps, ingested.followUp!)).outcome).toBe('inserted');
      now += HOUR;
    }
    const rolled = await runTrackRecord(track, key);
    expect(rolled.outcome).toBe('rolled_up');

    // An independent reading of what was stored: the candles, and per candle the live signal, else the history's decision.
    const candles = (
      await db.query<{ t: number; open: number; high: number; low: number; close: number; volume: number }>(
        `select (extract(epoch from open_time) * 1000)::float8 as t, open, high, low, close, volume from public.candles order by open_time`,
      )
    ).map((r) => ({ openTime: r.t, open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume }));
    expect(candles).toHaveLength(HISTORY + STEPS - 1);
    const read = async (table: string) =>
      new Map(
        (
          await db.query<{ t: number; direction: TradeSignal['direction']; score: number; stop: number | null; take_profit: number | null; doubling?: DoublingDecision | null }>(
            `select (extract(epoch from candle_time) * 1000)::float8 as t, direction, score, stop, take_profit from public.${table}`,
          )
        ).map((r) => [r.t, { direction: r.direction, score: r.score, stop: r.stop, takeProfit: r.take_profit }]),
      );
    const live = await read('signals');
    const history = await read('history_decisions');
    expect(live.size).toBe(STEPS);
    const decisions = candles.map((c) => live.get(c.openTime) ?? history.get(c.openTime) ?? null);
    const first = decisions.findIndex((d) => d !== null);
    expect(first).toBe(INDICATOR_WARMUP_CANDLES - 1);
    const expected = runBacktest(
      candles,
      decisions.map((d) => d ?? { direction: 'flat', score: 0, stop: null, takeProfit: null }),
      { ...settings, from: first },
    );

    const rows = await rollups();
    expect(rows.map((r) => r.window_name)).toEqual(['30d', '7d', 'all']);
    const all = rows.find((r) => r.window_name === 'all')!;
    expect(all).toMatchObject({
      candles: candles.length - first,
      trades: expected.stats.trades,
      wins: expected.stats.wins,
      expectancy_pct: expected.stats.expectancyPct,
      total_return_pct: expected.totalReturnPct,
      buy_hold_return_pct: expected.buyHold.returnPct,
      coin_flip_draws: 300,
      coin_flip_median_pct: expected.coinFlip.medianExpectancyPct,
      coin_flip_percentile: expected.coinFlip.percentile,
      edge: expected.edge,
    });
    // Repeated calls are one position: far fewer trades than directional decisions.
    const directional = decisions.filter((d) => d && d.direction !== 'flat').length;
    expect(expected.stats.trades).toBeGreaterThan(0);
    expect(expected.stats.trades).toBeLessThan(directional);

    // A live signal wins over a history decision stored for the same candle.
    const liveTime = [...live.keys()][0]!;
    await db.query(
      `insert into public.history_decisions (symbol, timeframe, candle_time, direction, score, stop, take_profit)
       values ($1, $2, timestamptz 'epoch' + $3::float8 * interval '1 millisecond', 'long', 99, 1, 1e9)`,
      [key.symbol, key.timeframe, liveTime],
    );
    // Seeded: a rerun over the same data gives the same figures, coin flips included.
    await runTrackRecord(track, key);
    expect(await rollups()).toEqual(rows);
  });
});
