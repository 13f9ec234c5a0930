import { z } from 'zod';
import { ConfigError, parseConfig } from '../common/env';
import { marketEnvSchema } from '../common/market-env';
import type { MarketSourceOptions } from './market/market-source';
import type { DoublingConfig } from './signals/guardrails';

/**
 * The worker's settings, parsed once from an environment record. Every
 * variable has a default except TRADING_DATABASE_URL; each is listed in README.
 */
const positiveInt = z.coerce.number().int().positive();
const positiveNumber = z.coerce.number().positive();
const nonNegativeNumber = z.coerce.number().min(0);
// Five space-separated cron fields (pg-boss also takes RRULEs; we only document cron).
const cron = z
  .string()
  .trim()
  .regex(/^(\S+\s+){4}\S+$/, 'must be a cron expression with five fields, e.g. "*/5 * * * *"');

export const pipelineConfigSchema = z.object({
  TRADING_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// or postgresql:// connection string'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // Shared with the web process, which checks new pairs against the same market's list.
  ...marketEnvSchema.shape,
  /** KingFisher liquidation maps (access by application); without them clusters are estimated from candles. */
  KINGFISHER_LOGIN: z.string().min(1).optional(),
  KINGFISHER_PASSWORD: z.string().min(1).optional(),
  KINGFISHER_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  SIMULATED_MARKET_SEED: z.coerce.number().int().default(42),

  INGEST_CRON: cron.default('*/5 * * * *'),
  /** Recomputes every active watcher's track record (7d / 30d / all). */
  TRACK_RECORD_CRON: cron.default('0 * * * *'),
  /**
   * Candles of history a new watcher loads (where the source has them) and walks forward, so
   * its track record exists from the first minute; the first 600 only warm the indicators up.
   * 0 = off (the track record then grows from live signals only).
   */
  TRACK_RECORD_HISTORY_CANDLES: z.coerce.number().int().min(0).max(10_000).default(2000),
  /** Coin-flip draws of the baseline (seeded: the same data gives the same figures). */
  TRACK_RECORD_DRAWS: z.coerce.number().int().min(200).max(5000).default(500),
  TRACK_RECORD_SEED: z.coerce.number().int().default(20_240_101),
  /**
   * Candles the indicators are computed over. EMA200 is seeded from its first 200 closes and
   * forgets the seed slowly: over 300 candles it sat up to 3 % off a full-history EMA200 on
   * real data, over 600 up to 0.4 %, over 1000 (Binance's one-request maximum) below 0.02 %
   * (indicators/compute-indicators.oracle.test.ts).
   */
  CANDLE_LOOKBACK: positiveInt.min(50).max(1000).default(1000),

  DOUBLING_SCORE_DELTA: nonNegativeNumber.max(100).default(10),
  /** Annualised realised volatility (fraction, 1.2 = 120 %) at or above which doubling is refused. */
  DOUBLING_MAX_VOL: positiveNumber.default(1.2),
  /** Candles since the open recommendation before doubling (candles, so it also blocks on 4h and 1d). */
  DOUBLING_COOLDOWN_CANDLES: z.coerce.number().int().min(0).max(1000).default(4),
  DOUBLING_MAX_POSITION_PCT: positiveNumber.max(100).default(10),
  /** The position the guardrails assume is already open on a recommendation, % of equity. */
  SIGNAL_POSITION_PCT: positiveNumber.max(100).default(5),
  /** 'edge': a call where the measured edge is not positive (≥ 30 trades) is stored flat, marked withheld; 'all': every call is published. */
  SIGNAL_PUBLISH: z.enum(['edge', 'all']).default('edge'),

  TRACK_RECORD_HORIZON_CANDLES: positiveInt.max(500).default(24),
  TRACK_RECORD_FEE_PCT: nonNegativeNumber.max(5).default(0.1),

  // Measured best on 2 cores (bench/pipeline.ts): a few large batches beat many small ones, and four at once per
  // queue keep the database busy while a batch computes (2: steady 586 /s, 4: 664–698 /s, 6: 552 /s, pool waits).
  WORKER_BATCH_SIZE: positiveInt.max(500).default(50),
  WORKER_CONCURRENCY: positiveInt.max(64).default(4),
  WORKER_POLL_SECONDS: z.coerce.number().min(0.5).default(2),
  PIPELINE_DB_POOL_MAX: positiveInt.default(10),
  PGBOSS_POOL_MAX: positiveInt.default(10),
  /** Named (server-prepared) statements on the hot path; false behind a transaction pooler that lacks them. */
  DB_PREPARED_STATEMENTS: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),

  JOB_RETRY_LIMIT: z.coerce.number().int().min(0).max(20).default(4),
  JOB_RETRY_DELAY_SECONDS: positiveInt.default(5),
  JOB_RETRY_DELAY_MAX_SECONDS: positiveInt.default(300),
  /**
   * A job still active after this long is presumed dead (crashed worker) and retried elsewhere.
   * Jobs take milliseconds to a few seconds; the bound is two market requests timing out.
   */
  JOB_EXPIRE_SECONDS: positiveInt.max(3600).default(30),
  /**
   * How often pg-boss looks for expired jobs (its supervise and monitor intervals, 60 s by
   * default): a killed worker's job is retried within JOB_EXPIRE_SECONDS + this + the retry delay.
   */
  JOB_MONITOR_SECONDS: positiveInt.max(600).default(5),
  /** Missed closed candles an ingest analyses (and signals) after an outage, newest first kept. */
  INGEST_CATCH_UP_CANDLES: positiveInt.max(1000).default(60),
  /** After an outage, up to this many missed candles are fetched and stored (paged), so the series has no hole. */
  INGEST_MAX_GAP_CANDLES: positiveInt.max(100_000).default(10_000),
  /** Serve the worker's job metrics at GET /metrics on this port (0 = any free port); unset = not served. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
});

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;

/** Parses an env record (empty strings mean unset); a bad value throws one line per variable. */
export function parsePipelineConfig(source: Record<string, string | undefined>): PipelineConfig {
  // Only our own variables: the rest of the environment is no business of the worker's.
  const known = new Set(Object.keys(pipelineConfigSchema.shape));
  const config = parseConfig(pipelineConfigSchema, Object.fromEntries(Object.entries(source).filter(([k]) => known.has(k))));
  if (config.MARKET_DATA === 'cryptometer' && !config.CRYPTOMETER_API_KEY) {
    throw new ConfigError('Invalid configuration:\n  CRYPTOMETER_API_KEY: required when MARKET_DATA=cryptometer');
  }
  if (Boolean(config.KINGFISHER_LOGIN) !== Boolean(config.KINGFISHER_PASSWORD)) {
    throw new ConfigError('Invalid configuration:\n  KINGFISHER_PASSWORD: set both KINGFISHER_LOGIN and KINGFISHER_PASSWORD, or neither');
  }
  return config;
}

/** The market-source options (pipeline/market/market-source.ts) this config describes. */
export function marketOptionsOf(config: PipelineConfig): MarketSourceOptions {
  return {
    provider: config.MARKET_DATA,
    seed: config.SIMULATED_MARKET_SEED,
    timeoutMs: config.MARKET_TIMEOUT_MS,
    binance: { baseUrl: config.BINANCE_BASE_URL },
    cryptometer: config.CRYPTOMETER_API_KEY
      ? { apiKey: config.CRYPTOMETER_API_KEY, baseUrl: config.CRYPTOMETER_BASE_URL, exchange: config.CRYPTOMETER_EXCHANGE }
      : undefined,
    kingfisher:
      config.KINGFISHER_LOGIN && config.KINGFISHER_PASSWORD
        ? { login: config.KINGFISHER_LOGIN, password: config.KINGFISHER_PASSWORD, baseUrl: config.KINGFISHER_BASE_URL }
        : undefined,
  };
}

/** The guardrail settings (pipeline/signals/guardrails.ts) this config describes. */
export function doublingConfigOf(config: PipelineConfig): DoublingConfig {
  return {
    scoreDelta: config.DOUBLING_SCORE_DELTA,
    maxRealizedVol: config.DOUBLING_MAX_VOL,
    cooldownCandles: config.DOUBLING_COOLDOWN_CANDLES,
    maxPositionPct: config.DOUBLING_MAX_POSITION_PCT,
  };
}
