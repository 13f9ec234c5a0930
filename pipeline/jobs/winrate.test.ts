import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { TIMEFRAME_MS } from '../../common/symbols';
import { createMigratedDatabases } from '../../test/databases';
import type { DoublingDecision, WatchKey } from '../domain';
import type { MarketSource } from '../market/market-source';
import { createSimulatedMarket } from '../market/simulated';
import { evaluateSignal } from '../winrate/evaluate';
import { runIngest } from './ingest.job';
import { runSignal } from './signals.job';
import { runWinRate } from './winrate.job';

const log = pino({ level: 'silent' });
const HOUR = TIMEFRAME_MS['1h'];
const START = Date.UTC(2024, 2, 1, 0, 0, 30);
const STEPS = 120;
const LOOKBACK = 250;
const HORIZON = 12;
const FEE = 0.1;

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

describe('ingest → signal → win rate over a stretch of market time', () => {
  it('adds one candle per step, one signal per candle, then settles outcomes and rollups idempotently', async () => {
    let now = START;
    const clock = () => now;
    const simulated = createSimulatedMarket({ now: clock });
    const limits: number[] = [];
    const market: MarketSource = {
      name: 'simulated',
      fetchCandles: (symbol, timeframe, options) => {
        limits.push(options.limit);
        return simulated.fetchCandles(symbol, timeframe, options);
      },
    };
    const key: WatchKey = { symbol: 'BTC/USDT', timeframe: '1h' };
    const ingestDeps = { sql: db.pool, market, log, now: clock, lookback: LOOKBACK };
    const signalDeps = {
      sql: db.pool,
      positionPct: 5,
      doubling: { scoreDelta: 5, maxRealizedVol: 5, cooldownMs: 0, maxPositionPct: 20 },
    };

    for (let i = 0; i < STEPS; i++) {
      const ingested = await runIngest(ingestDeps, key);
      expect(ingested.log.outcome).toBe('analysed');
      expect(ingested.followUp).toEqual({ ...key, candleTime: Math.floor(now / HOUR) * HOUR - HOUR });
      const signal = await runSignal(signalDeps, ingested.followUp!);
      expect(signal.outcome).toBe('inserted');
      now += HOUR;
    }
    // The first ingest fills the lookback, each later one fetches exactly the one candle that closed.
    expect(limits).toEqual([LOOKBACK, ...Array(STEPS - 1).fill(1)]);
    const [{ n: candleCount }] = (await db.query<{ n: number }>('select count(*)::int as n from public.candles')) as [{ n: number }];
    expect(candleCount).toBe(LOOKBACK + STEPS - 1);

    const signals = await db.query<{ id: number; direction: string; entry: number; stop: number | null; take_profit: number | null; candle_time: Date; doubling: DoublingDecision | null }>(
      'select id, direction, entry, stop, take_profit, candle_time, doubling from public.signals order by candle_time',
    );
    expect(signals).toHaveLength(STEPS);
    const directional = signals.filter((s) => s.direction !== 'flat');
    expect(directional.length).toBeGreaterThan(5);
    // Guardrail wiring: the open recommendation is the previous directional signal (none is settled yet).
    let previous: (typeof signals)[number] | undefined;
    for (const s of signals) {
      if (s.direction === 'flat') {
        expect(s.doubling).toBeNull();
        continue;
      }
      if (!previous) expect(s.doubling).toBeNull();
      else expect(s.doubling!.blockedBy === 'not_same_direction').toBe(previous.direction !== s.direction);
      previous = s;
    }

    // Win rate at the end of the stretch, the clock one candle past the newest one.
    const first = await runWinRate({ db, log, now: clock, horizonCandles: HORIZON, feePct: FEE }, key);
    const outcomes = await db.query<{ signal_id: number; outcome: string; exit_reason: string; return_pct: number; exit_time: Date }>(
      'select signal_id, outcome, exit_reason, return_pct, exit_time from public.signal_outcomes order by signal_id',
    );
    expect(outcomes.length).toBeGreaterThan(0);
    expect(first.evaluated).toBe(outcomes.length);

    // Recompute every directional signal from the market itself: what is decidable must be stored, and match.
    const lastOpen = Math.floor((now - HOUR) / HOUR) * HOUR - HOUR;
    for (const s of directional) {
      const after = [];
      for (let t = s.candle_time.getTime() + HOUR; t <= lastOpen && after.length < HORIZON; t += HOUR) {
        after.push(simulated.candleAt(key.symbol, key.timeframe, t));
      }
      const expected = evaluateSignal(
        { direction: s.direction as 'long' | 'short', entry: s.entry, stop: s.stop!, takeProfit: s.take_profit!, candleTime: s.candle_time.getTime() },
        after,
        { horizonCandles: HORIZON, feePct: FEE },
      );
      const stored = outcomes.find((o) => o.signal_id === s.id);
      if (!expected) {
        expect(stored, `signal ${s.id} is still open`).toBeUndefined();
        continue;
      }
      expect(stored).toBeDefined();
      expect(stored!.outcome).toBe(expected.outcome);
      expect(stored!.exit_reason).toBe(expected.exitReason);
      expect(stored!.return_pct).toBeCloseTo(expected.returnPct, 9);
      expect(stored!.exit_time.getTime()).toBe(expected.exitTime);
    }

    const rollups = await db.query<{ window_name: string; trades: number; wins: number; losses: number; buy_hold_pct: number | null }>(
      'select window_name, trades, wins, losses, buy_hold_pct from public.win_rate order by window_name',
    );
    expect(rollups.map((r) => r.window_name)).toEqual(['30d', '7d', 'all']);
    const all = rollups.find((r) => r.window_name === 'all')!;
    expect(all.trades).toBe(outcomes.length);
    expect(all.wins).toBe(outcomes.filter((o) => o.outcome === 'win').length);
    expect(all.wins + all.losses).toBe(all.trades);
    // 7d buy-and-hold: the first candle opening inside the window to the newest close.
    const weekStart = Math.ceil((now - 7 * 86_400_000) / HOUR) * HOUR;
    const expectedHold =
      (simulated.candleAt(key.symbol, key.timeframe, lastOpen).close / simulated.candleAt(key.symbol, key.timeframe, weekStart).open - 1) * 100;
    expect(rollups.find((r) => r.window_name === '7d')!.buy_hold_pct).toBeCloseTo(expectedHold, 9);

    // A rerun settles nothing new and leaves the numbers as they were.
    const again = await runWinRate({ db, log, now: clock, horizonCandles: HORIZON, feePct: FEE }, key);
    expect(again.evaluated).toBe(0);
    expect(await db.query('select signal_id, outcome, exit_reason, return_pct, exit_time from public.signal_outcomes order by signal_id')).toEqual(outcomes);
    expect(await db.query('select window_name, trades, wins, losses, buy_hold_pct from public.win_rate order by window_name')).toEqual(rollups);
  });
});
