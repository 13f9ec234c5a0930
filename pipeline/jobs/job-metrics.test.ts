import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createMigratedDatabases } from '../../test/databases';
import { seriesValue } from '../../test/prometheus-text';
import { parsePipelineConfig } from '../config';
import { startPipeline, type RunningPipeline } from '../main';
import { createSimulatedMarket } from '../market/simulated';
import { QUEUES } from './queues';

const NOW = Date.UTC(2024, 5, 3, 12, 0, 30);

describe('the worker job metrics (WORKER_METRICS_PORT)', () => {
  let dbs: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let db: Db;
  let pipeline: RunningPipeline | undefined;

  beforeAll(async () => {
    dbs = await createMigratedDatabases();
    db = createDb({ connectionString: dbs.tradingUrl, max: 2 });
  }, 120_000);
  afterAll(async () => {
    await pipeline?.stop();
    await db?.close();
    await dbs?.drop();
  });

  it('serves each job run time by queue and outcome at GET /metrics, and nothing else', { timeout: 120_000 }, async () => {
    pipeline = await startPipeline({
      config: parsePipelineConfig({
        TRADING_DATABASE_URL: dbs.tradingUrl,
        CANDLE_LOOKBACK: '300',
        TRACK_RECORD_HISTORY_CANDLES: '0',
        WORKER_POLL_SECONDS: '0.5',
        WORKER_METRICS_PORT: '0',
      }),
      log: pino({ level: 'silent' }),
      now: () => NOW,
      market: createSimulatedMarket({ now: () => NOW }),
      schedules: false,
      catchUpOnStart: false,
    });
    expect(pipeline.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const key = { symbol: 'BTC/USDT', timeframe: '1h' } as const;
    // A new watcher is ingested at once; the ingest sends a signal job.
    await db.query('insert into public.watchers (symbol, timeframe, subscribers) values ($1, $2, 1)', [key.symbol, key.timeframe]);
    let text = '';
    const deadline = Date.now() + 60_000;
    while (seriesValue(text, 'zmarty_job_duration_seconds_count', { queue: QUEUES.signals, status: 'completed' }) === undefined) {
      if (Date.now() > deadline) throw new Error(`no signal job in the metrics:\n${text}`);
      await new Promise((r) => setTimeout(r, 200));
      text = await (await fetch(pipeline.metricsUrl!)).text();
    }
    const ingests = seriesValue(text, 'zmarty_job_duration_seconds_count', { queue: QUEUES.ingest, status: 'completed' });
    expect(ingests).toBeGreaterThanOrEqual(1);
    expect(seriesValue(text, 'zmarty_jobs_total', { queue: QUEUES.ingest, status: 'completed' })).toBe(ingests);
    expect(seriesValue(text, 'zmarty_job_duration_seconds_sum', { queue: QUEUES.ingest, status: 'completed' })).toBeGreaterThan(0);
    expect((await fetch(pipeline.metricsUrl!.replace('/metrics', '/other'))).status).toBe(404);
  });
});
