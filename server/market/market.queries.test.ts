import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createMigratedDatabases } from '../../test/databases';
import { runIngest } from '../../pipeline/jobs/ingest.job';
import { runSignal } from '../../pipeline/jobs/signals.job';
import { ensureHistory } from '../../pipeline/jobs/track-record.job';
import { createSimulatedMarket } from '../../pipeline/market/simulated';
import { buildPrompt } from '../context';
import { loadMarketSnapshots } from './market.queries';

let dbs: Awaited<ReturnType<typeof createMigratedDatabases>>;
let db: Db;
const NOW = Date.UTC(2024, 5, 3, 12, 0, 30);
const log = pino({ level: 'silent' });

beforeAll(async () => {
  dbs = await createMigratedDatabases();
  db = createDb({ connectionString: dbs.tradingUrl, max: 2 });
  // The pipeline's own first ingest of a pair: history, walk-forward track record, then the live signal.
  const key = { symbol: 'ETH/USDT', timeframe: '1h' as const };
  const now = () => NOW;
  const ingested = await runIngest({ sql: db.pool, market: createSimulatedMarket({ now }), log, now, lookback: 300, historyCandles: 1000 }, key);
  await ensureHistory({ sql: db.pool, log, now, lookback: 300, historyCandles: 1000, settings: { feePct: 0.1, horizonCandles: 24, draws: 200, seed: 1 } }, key);
  await runSignal({ sql: db.pool, positionPct: 5, doubling: { scoreDelta: 10, maxRealizedVol: 1.2, cooldownCandles: 4, maxPositionPct: 10 }, horizonCandles: 24 }, ingested.followUp!);
});

afterAll(async () => {
  await db?.close();
  await dbs?.drop();
});

describe('market snapshot', () => {
  it('serves the track record per window with its baselines, the win rates from it, and the edge the signal carries', async () => {
    const [snap, none] = await loadMarketSnapshots(db, [
      { symbol: 'ETH/USDT', timeframe: '1h' },
      { symbol: 'ETH/USDT', timeframe: '4h' },
    ]);
    expect(snap!.trackRecord.map((t) => t.window)).toEqual(['7d', '30d', 'all']);
    const all = snap!.trackRecord.find((t) => t.window === 'all')!;
    expect(all.trades).toBeGreaterThan(0);
    expect(all.coinFlip).toMatchObject({ draws: 200, seed: 1 });
    expect(all.coinFlip.percentile).not.toBeNull();
    expect(typeof all.buyHoldReturnPct).toBe('number');
    expect(all.equity.length).toBeGreaterThan(10);
    expect(all.equity[0]).toHaveLength(3);
    expect(new Date(all.fromTime).getTime()).toBeLessThan(new Date(all.toTime).getTime());
    expect(snap!.winRateAll).toEqual({ winPct: all.winRate, trades: all.trades });
    expect(snap!.edge).toEqual({
      verdict: all.edge,
      trades: all.trades,
      expectancyPct: all.expectancyPct,
      coinFlipMedianPct: all.coinFlip.medianExpectancyPct,
      percentile: all.coinFlip.percentile,
      window: 'the last 401 hours',
    });
    expect(snap!.signal!.edge).toEqual(snap!.edge);
    expect(none).toMatchObject({ trackRecord: [], edge: null, winRate30d: null, winRateAll: null, signal: null, lastPrice: null, change24hPct: null });

    // What the providers read: the edge next to the signal.
    const prompt = buildPrompt({ userMessage: 'eth?', symbols: [{ symbol: 'ETH/USDT', timeframe: '1h' }], market: [snap!], now: new Date(NOW) });
    expect(prompt.system).toContain(`edge: on ETH/USDT 1h this strategy has`);
    expect(prompt.system).toContain(`over the last 401 hours (expectancy`);
  });
});

describe('watchlist prices', () => {
  it('serves each pair its last price and the change over 24 h, from the stored candles', async () => {
    const [snap] = await loadMarketSnapshots(db, [{ symbol: 'ETH/USDT', timeframe: '1h' }]);
    const [last] = await db.query<{ close: number; open_time: Date }>(
      `select close, open_time from public.candles where symbol = 'ETH/USDT' and timeframe = '1h' order by open_time desc limit 1`,
    );
    const [dayAgo] = await db.query<{ close: number }>(
      `select close from public.candles where symbol = 'ETH/USDT' and timeframe = '1h' and open_time = $1`,
      [new Date(last!.open_time.getTime() - 24 * 3600_000)],
    );
    expect(snap!.lastPrice).toBe(last!.close);
    expect(snap!.change24hPct).toBeCloseTo(((last!.close - dayAgo!.close) / dayAgo!.close) * 100, 10);
    expect(snap!.change24hPct).not.toBe(0);
  });
});
