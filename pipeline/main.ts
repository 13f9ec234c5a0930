import path from 'node:path';
import { PgBoss, type ConstructorOptions } from 'pg-boss';
import { createDb, type Db } from '../common/db';
import { ConfigError, readEnvSource } from '../common/env';
import { AppError } from '../common/errors';
import { createLogger, type Logger } from '../common/logger';
import { migrate } from '../common/migrate';
import { doublingConfigOf, marketOptionsOf, parsePipelineConfig, type PipelineConfig } from './config';
import { createIndicatorCache } from './indicators/indicator-window';
import { createLatestCache, createWindowCache, runIngest } from './jobs/ingest.job';
import { ensureQueues, enqueueIngest, enqueueMany, QUEUES, signalJobSchema, watchJobSchema } from './jobs/queues';
import { createDepthSampler, registerWorker } from './jobs/run-worker';
import { createJobMetrics, serveJobMetrics } from './jobs/job-metrics';
import { runSignal } from './jobs/signals.job';
import { listenForActiveWatchers } from './jobs/watcher-listener';
import { ensureHistory, runTrackRecord, type TrackRecordDeps } from './jobs/track-record.job';
import { createMarketPauses, pausedUntilOf } from './market/market-pauses';
import { createMarketSource, type MarketSource } from './market/market-source';
import { createPreparedQueryable } from './storage/prepared';
import { batchedStores } from './storage/stores';
import { watcherStore } from './storage/watchers.store';
import { z } from 'zod';

const SQL_DIR = path.resolve(import.meta.dirname, '../sql/trading');
export const PGBOSS_SCHEMA = 'pgboss';

export interface PipelineOptions {
  /** Parsed settings; when absent, `env` is parsed (process.env by default). */
  config?: PipelineConfig;
  env?: Record<string, string | undefined>;
  log?: Logger;
  /** Replaces the configured market source (tests, benchmarks). */
  market?: MarketSource;
  /** The clock for "which candle has closed" and the win-rate windows. */
  now?: () => number;
  /** pg-boss tuning on top of ours (e.g. short supervise intervals in tests). */
  boss?: Partial<ConstructorOptions>;
  /** Register the cron schedules (default true). */
  schedules?: boolean;
  /** Enqueue an ingest for every active watcher at start (default true). */
  catchUpOnStart?: boolean;
}

export interface RunningPipeline {
  boss: PgBoss;
  db: Db;
  config: PipelineConfig;
  /** Where the job metrics are served (WORKER_METRICS_PORT), when they are. */
  metricsUrl?: string;
  stop(): Promise<void>;
}

/**
 * The worker's composition root: migrations, pg-boss (schema `pgboss` in the
 * trading database), the five queues and their workers, the cron schedules,
 * and the listener that ingests a new watcher at once. Any number of these
 * can run against one database: pg-boss hands each job to one worker
 * (SKIP LOCKED) and the per-watcher singleton keys keep two workers off the
 * same watcher.
 */
export async function startPipeline(options: PipelineOptions = {}): Promise<RunningPipeline> {
  const config = options.config ?? parsePipelineConfig(options.env ?? process.env);
  const log = options.log ?? createLogger({ level: config.LOG_LEVEL, name: 'pipeline' });
  const now = options.now ?? Date.now;

  const db = createDb({ connectionString: config.TRADING_DATABASE_URL, max: config.PIPELINE_DB_POOL_MAX, applicationName: 'zmarty-pipeline' });
  const cleanup: Array<() => Promise<unknown>> = [() => db.close()];
  const stopAll = async () => {
    for (const step of cleanup.reverse()) await step().catch((err: Error) => log.error({ err: err.message }, 'pipeline shutdown step failed'));
  };
  try {
    const migrated = await migrate(db.pool, SQL_DIR);
    if (migrated.applied.length) log.info({ applied: migrated.applied }, 'trading migrations applied');

    const boss = new PgBoss({
      connectionString: config.TRADING_DATABASE_URL,
      schema: PGBOSS_SCHEMA,
      max: config.PGBOSS_POOL_MAX,
      application_name: 'zmarty-pgboss',
      // Workers wake on NOTIFY when a job is created instead of waiting out their poll.
      useListenNotify: true,
      // Expiry runs in the monitor pass, which runs on the supervise timer: both set how soon a
      // killed worker's job is found (pg-boss's 60 s defaults would add up to a minute).
      superviseIntervalSeconds: config.JOB_MONITOR_SECONDS,
      monitorIntervalSeconds: config.JOB_MONITOR_SECONDS,
      ...options.boss,
    });
    boss.on('error', (err) => log.error({ err: err.message }, 'pg-boss error'));
    boss.on('warning', (w) => log.warn({ data: w.data }, `pg-boss: ${w.message}`));
    await boss.start();
    cleanup.push(() => boss.stop({ graceful: true, timeout: 30_000 }));

    await ensureQueues(boss, {
      retryLimit: config.JOB_RETRY_LIMIT,
      retryDelaySeconds: config.JOB_RETRY_DELAY_SECONDS,
      retryDelayMaxSeconds: config.JOB_RETRY_DELAY_MAX_SECONDS,
      expireInSeconds: config.JOB_EXPIRE_SECONDS,
    });

    const market = options.market ?? createMarketSource({ ...marketOptionsOf(config), log, now, pauses: createMarketPauses({ sql: db.pool, log }) });
    const depth = createDepthSampler(boss, PGBOSS_SCHEMA);
    const workOptions = {
      batchSize: config.WORKER_BATCH_SIZE,
      localConcurrency: config.WORKER_CONCURRENCY,
      pollingIntervalSeconds: config.WORKER_POLL_SECONDS,
    };
    const once = { batchSize: 1, localConcurrency: 1, pollingIntervalSeconds: config.WORKER_POLL_SECONDS };
    const jobMetrics = createJobMetrics();
    const workerDeps = { log, depth, metrics: jobMetrics };
    const latest = createLatestCache();
    const sql = config.DB_PREPARED_STATEMENTS ? createPreparedQueryable(db.pool) : db.pool;
    // The jobs running at once share their statements: one round trip for many watchers (see batchedStores).
    const stores = batchedStores(sql);

    const track: TrackRecordDeps = {
      sql,
      stores,
      log,
      now,
      lookback: config.CANDLE_LOOKBACK,
      historyCandles: config.TRACK_RECORD_HISTORY_CANDLES,
      settings: {
        feePct: config.TRACK_RECORD_FEE_PCT,
        horizonCandles: config.TRACK_RECORD_HORIZON_CANDLES,
        draws: config.TRACK_RECORD_DRAWS,
        seed: config.TRACK_RECORD_SEED,
      },
    };
    const ingestDeps = {
      sql,
      market,
      log,
      now,
      lookback: config.CANDLE_LOOKBACK,
      historyCandles: config.TRACK_RECORD_HISTORY_CANDLES,
      catchUp: config.INGEST_CATCH_UP_CANDLES,
      maxGap: config.INGEST_MAX_GAP_CANDLES,
      latest,
      windows: createWindowCache(),
      indicators: createIndicatorCache(),
      stores,
    };
    await registerWorker(
      boss,
      {
        queue: QUEUES.ingest,
        schema: watchJobSchema,
        options: workOptions,
        handle: async (key) => {
          let ingested;
          try {
            ingested = await runIngest(ingestDeps, key);
          } catch (err) {
            const until = pausedUntilOf(err);
            if (until === null) throw err;
            // Not a failure: the provider asked every worker to wait. Its retries are kept for real failures,
            // and the watcher is ingested again as soon as the pause ends (a stately queue holds one such job).
            await enqueueIngest(boss, key, { startAfter: new Date(until) });
            return { log: { outcome: 'deferred', market_paused_until: new Date(until).toISOString() }, followUp: null };
          }
          // Before the follow-up signal job is sent: the newest candle's signal then carries its edge.
          const history = await ensureHistory(track, key, ingested.history);
          return history ? { ...ingested, log: { ...ingested.log, history } } : ingested;
        },
        sendFollowUps: (jobs) => enqueueMany(boss, QUEUES.signals, jobs),
        // The market does not list the pair: asking again cannot help (the next scheduled ingest asks anyway).
        isPermanent: (err) => err instanceof AppError && err.code === 'invalid_symbol',
      },
      workerDeps,
    );
    await registerWorker(
      boss,
      {
        queue: QUEUES.signals,
        schema: signalJobSchema,
        options: workOptions,
        handle: async (job) => ({
          log: await runSignal(
            {
              sql,
              stores,
              positionPct: config.SIGNAL_POSITION_PCT,
              doubling: doublingConfigOf(config),
              horizonCandles: config.TRACK_RECORD_HORIZON_CANDLES,
              publish: config.SIGNAL_PUBLISH,
            },
            job,
          ),
        }),
      },
      workerDeps,
    );
    await registerWorker(
      boss,
      {
        queue: QUEUES.trackRecord,
        schema: watchJobSchema,
        options: workOptions,
        handle: async (key) => ({ log: await runTrackRecord(track, key) }),
      },
      workerDeps,
    );
    // The cron ticks: each fans out one job per watcher it selects.
    const fanOut = z.object({}).loose();
    for (const [tick, target, select] of [
      [QUEUES.scheduleIngest, QUEUES.ingest, watcherStore.active],
      [QUEUES.scheduleTrackRecord, QUEUES.trackRecord, watcherStore.active],
    ] as const) {
      await registerWorker(
        boss,
        {
          queue: tick,
          schema: fanOut,
          options: once,
          handle: async () => {
            const keys = await select(db.pool);
            await enqueueMany(boss, target, keys);
            return { log: { watchers: keys.length } };
          },
        },
        workerDeps,
      );
    }

    if (options.schedules ?? true) {
      // Stored in pgboss.schedule; every instance upserts the same rows, and pg-boss fires each tick once.
      await boss.schedule(QUEUES.scheduleIngest, config.INGEST_CRON, {}, { tz: 'UTC' });
      await boss.schedule(QUEUES.scheduleTrackRecord, config.TRACK_RECORD_CRON, {}, { tz: 'UTC' });
    }

    const catchUp = async () => enqueueMany(boss, QUEUES.ingest, await watcherStore.active(db.pool));
    const listener = listenForActiveWatchers({ db, log, onActive: (key) => enqueueIngest(boss, key), onReconnect: catchUp });
    await listener.ready;
    // Runs before the pool and pg-boss close (cleanup runs in reverse).
    cleanup.push(() => listener.close());
    if (options.catchUpOnStart ?? true) await catchUp();

    let metricsUrl: string | undefined;
    if (config.WORKER_METRICS_PORT !== undefined) {
      const served = await serveJobMetrics(jobMetrics, config.WORKER_METRICS_PORT);
      cleanup.push(() => served.close());
      metricsUrl = served.url;
    }

    log.info(
      { market: market.name, ingestCron: config.INGEST_CRON, trackRecordCron: config.TRACK_RECORD_CRON, ...workOptions },
      'pipeline started',
    );
    let stopped: Promise<void> | undefined;
    return {
      boss,
      db,
      config,
      metricsUrl,
      stop: () => (stopped ??= stopAll().then(() => log.info('pipeline stopped'))),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function main() {
  let pipeline: RunningPipeline;
  try {
    pipeline = await startPipeline({ env: readEnvSource() });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  let exiting = false;
  const shutdown = (signal: string) => {
    if (exiting) return;
    exiting = true;
    // A second signal while draining forces the exit.
    process.once(signal, () => process.exit(1));
    pipeline.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  // Started by `npm start`: if it dies (even by SIGKILL) the IPC channel closes and we follow.
  if (process.send) process.once('disconnect', () => shutdown('disconnect'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  main().catch((err: unknown) => {
    console.error(`pipeline failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
