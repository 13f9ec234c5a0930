import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { TIMEFRAME_MS } from '../../common/symbols';
import { createMigratedDatabases } from '../../test/databases';
import { runBacktest } from '../backtest/run-backtest';
import type { TradeSignal } from '../backtest/simulate';
import { describeEdge, type EdgeFacts } from '../../common/edge';
import { EDGE_MIN_TRADES } from '../backtest/coin-flip';
import type { DoublingDecision, SignalDecision, WatchKey } from '../domain';
import { INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { createSimulatedMarket } from '../market/simulated';
import { runIngest } from './ingest.job';
import { runSignal, withheld } from './signals.job';
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

/** The simulated market on a clock from START, with the ingest's and the track record's dependencies over it. */
function simulatedPipeline() {
  let now = START;
  const clock = () => now;
  const market = createSimulatedMarket({ now: clock });
  return {
    ingestDeps: { sql: db.pool, market, log, now: clock, lookback: LOOKBACK, historyCandles: HISTORY },
    track: { sql: db.pool, log, now: clock, settings, lookback: LOOKBACK, historyCandles: HISTORY } satisfies TrackRecordDeps,
    nextHour: () => void (now += HOUR),
  };
}
const rollups = () => db.query<Row>('select * from public.track_record order by window_name').then((rows) => rows.map(({ computed_at: _, ...r }) => r));

describe('track record: history walked forward, then live signals, rolled up per window', () => {
  it('counts positions not signals, prefers the strategy\'s own call to a published signal, matches a backtest of the same decisions, and is the same on every rerun', async () => {
    const key: WatchKey = { symbol: 'BTC/USDT', timeframe: '1h' };
    const { ingestDeps, track, nextHour } = simulatedPipeline();
    const signalDeps = { sql: db.pool, positionPct: 5, doubling: { scoreDelta: 5, maxRealizedVol: 5, cooldownCandles: 0, maxPositionPct: 20 }, horizonCandles: HORIZON };

    for (let i = 0; i < STEPS; i++) {
      const ingested = await runIngest(ingestDeps, key);
      const history = await ensureHistory(track, key);
      // Only the first ingest walks the history forward.
      if (i === 0) expect(history).toMatchObject({ history: HISTORY, decisions: HISTORY - INDICATOR_WARMUP_CANDLES });
      else expect(history).toBeNull();
      expect((await runSignal(signalDeps, ingested.followUp!)).outcome).toBe('inserted');
      nextHour();
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

    // Seeded: a rerun over the same data gives the same figures, coin flips included.
    await runTrackRecord(track, key);
    expect(await rollups()).toEqual(rows);

    // The strategy's own call stored for a candle (the call behind a withheld signal) wins over the published signal.
    const liveTime = [...live.keys()][0]!;
    const call: TradeSignal = live.get(liveTime)!.direction === 'long' ? { direction: 'short', score: 45, stop: 1e9, takeProfit: 1 } : { direction: 'long', score: 45, stop: 1, takeProfit: 1e9 };
    await db.query(
      `insert into public.history_decisions (symbol, timeframe, candle_time, direction, score, stop, take_profit)
       values ($1, $2, timestamptz 'epoch' + $3::float8 * interval '1 millisecond', $4, $5, $6, $7)`,
      [key.symbol, key.timeframe, liveTime, call.direction, call.score, call.stop, call.takeProfit],
    );
    await runTrackRecord(track, key);
    const replaced = runBacktest(
      candles,
      decisions.map((d, i) => (candles[i]!.openTime === liveTime ? call : (d ?? { direction: 'flat', score: 0, stop: null, takeProfit: null }))),
      { ...settings, from: first },
    );
    expect((await rollups()).find((r) => r.window_name === 'all')).toMatchObject({ trades: replaced.stats.trades, wins: replaced.stats.wins, expectancy_pct: replaced.stats.expectancyPct });
  });
});

describe('publishing fewer signals where the strategy has no edge (SIGNAL_PUBLISH=edge)', () => {
  const facts = (verdict: EdgeFacts['verdict'], trades: number): EdgeFacts => ({ verdict, trades, expectancyPct: -0.04, coinFlipMedianPct: -0.19, percentile: 62, window: 'the last 1,400 hours' });
  const call: SignalDecision = { direction: 'long', vote: 47, score: 45, entry: 100, stop: 97, takeProfit: 106, reasons: [] };
  const key: WatchKey = { symbol: 'ETH/USDT', timeframe: '1h' };

  it('withholds a call only where at least 30 trades measured no edge, and says why with the edge sentence', () => {
    expect(withheld(call, facts('positive', 400), key)).toBeNull();
    expect(withheld(call, facts('none', EDGE_MIN_TRADES - 1), key)).toBeNull(); // too few to judge: published, with its edge
    expect(withheld(call, null, key)).toBeNull();
    expect(withheld({ ...call, direction: 'flat', stop: null, takeProfit: null }, facts('negative', 400), key)).toBeNull();
    for (const verdict of ['none', 'negative'] as const) {
      const held = withheld(call, facts(verdict, EDGE_MIN_TRADES), key)!;
      expect(held).toMatchObject({ direction: 'flat', vote: 47, score: 0, entry: 100, stop: null, takeProfit: null });
      expect(held.reasons.at(-1)!.detail).toBe(`withheld: the strategy called long (agreement 47), not published because ${describeEdge(key.symbol, key.timeframe, facts(verdict, EDGE_MIN_TRADES))}`);
    }
  });

  it('stores a withheld call flat with its edge, keeps the call for the track record, and publishes it with SIGNAL_PUBLISH=all', async () => {
    let now = START;
    const clock = () => now;
    const market = createSimulatedMarket({ now: clock });
    const pair: WatchKey = { symbol: 'SOL/USDT', timeframe: '1h' };
    const track: TrackRecordDeps = { sql: db.pool, log, now: clock, settings, lookback: LOOKBACK, historyCandles: 2000 };
    const base = { sql: db.pool, positionPct: 5, doubling: { scoreDelta: 10, maxRealizedVol: 1.2, cooldownCandles: 4, maxPositionPct: 10 }, horizonCandles: HORIZON };
    const first = await runIngest({ sql: db.pool, market, log, now: clock, lookback: LOOKBACK, historyCandles: 2000 }, pair);
    await ensureHistory(track, pair);
    const [edge] = await db.query<{ edge: string; trades: number }>(`select edge, trades from public.track_record where symbol = $1 and window_name = 'all'`, [pair.symbol]);
    // The simulated market has no edge to find: the precondition of this test.
    expect(edge!.edge).not.toBe('positive');
    expect(edge!.trades).toBeGreaterThanOrEqual(EDGE_MIN_TRADES);

    let followUp = first.followUp!;
    let withheldAt: number | null = null;
    for (let i = 0; i < 48 && withheldAt === null; i++) {
      const out = await runSignal({ ...base, publish: 'edge' }, followUp);
      if (out.withheld) withheldAt = out.candleTime as number;
      now += HOUR;
      followUp = (await runIngest({ sql: db.pool, market, log, now: clock, lookback: LOOKBACK }, pair)).followUp!;
    }
    expect(withheldAt).not.toBeNull();
    const signals = await db.query<{ direction: string; score: number; stop: number | null; reasons: SignalDecision['reasons']; edge: EdgeFacts }>(
      `select direction, score, stop, reasons, edge from public.signals where symbol = $1 order by candle_time`,
      [pair.symbol],
    );
    // Nothing but flat calls was published, every one with its edge.
    expect(signals.every((s) => s.direction === 'flat' && s.stop === null && s.edge.verdict !== 'positive')).toBe(true);
    const held = signals.filter((s) => s.reasons.some((r) => r.indicator === 'edge'));
    expect(held.length).toBeGreaterThan(0);
    expect(held[0]!.reasons.at(-1)!.detail).toMatch(/^withheld: the strategy called (long|short) .* because on SOL\/USDT 1h this strategy has (not beaten|done worse than) chance/);
    // The call behind it is what the track record measures.
    const [kept] = await db.query<{ direction: string; stop: number | null }>(
      `select direction, stop from public.history_decisions where symbol = $1 and candle_time = timestamptz 'epoch' + $2::float8 * interval '1 millisecond'`,
      [pair.symbol, withheldAt],
    );
    expect(kept!.direction).not.toBe('flat');
    expect(kept!.stop).not.toBeNull();

    // SIGNAL_PUBLISH=all: the next call is published as it was made.
    const published = await runSignal({ ...base, publish: 'all' }, followUp);
    expect(published.withheld).toBeUndefined();
  });

  it("walks a new watcher's history forward from the candles its first ingest stored, exactly as from the same candles read back", async () => {
    const pair: WatchKey = { symbol: 'ADA/USDT', timeframe: '1h' };
    const { ingestDeps, track, nextHour } = simulatedPipeline();
    const rowsOf = async () => ({
      decisions: await db.query(`select * from public.history_decisions where symbol = $1 order by candle_time`, [pair.symbol]),
      rollups: (await db.query<Row>(`select * from public.track_record where symbol = $1 order by window_name`, [pair.symbol])).map(({ computed_at: _, ...r }) => r),
    });

    const first = await runIngest(ingestDeps, pair);
    // Handed over only because the series was empty and every candle fetched went in: they are the series.
    const stored = await db.query<{ t: number; close: number }>(
      `select (extract(epoch from open_time) * 1000)::float8 as t, close from public.candles where symbol = $1 order by open_time`,
      [pair.symbol],
    );
    expect(first.history?.map((c) => ({ t: c.openTime, close: c.close }))).toEqual(stored);
    const sent: string[] = [];
    const recorded: TrackRecordDeps = { ...track, sql: { query: (text, values) => (sent.push(text), track.sql.query(text, values)) } };
    expect(await ensureHistory(recorded, pair, first.history)).toMatchObject({ history: HISTORY, decisions: HISTORY - INDICATOR_WARMUP_CANDLES });
    // Nor are they read back for the rollup.
    expect(sent.filter((text) => /from public\.candles/.test(text))).toEqual([]);
    const handedOver = await rowsOf();
    expect(handedOver.decisions).toHaveLength(HISTORY - INDICATOR_WARMUP_CANDLES);

    // The same walk-forward from the database's copy.
    await db.query(`delete from public.history_decisions where symbol = $1`, [pair.symbol]);
    await db.query(`delete from public.track_record where symbol = $1`, [pair.symbol]);
    await ensureHistory(track, pair);
    expect(await rowsOf()).toEqual(handedOver);

    // A later ingest stores one candle into a series that had some: nothing to hand over.
    nextHour();
    expect((await runIngest(ingestDeps, pair)).history).toBeUndefined();
  });
});

