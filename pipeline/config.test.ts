import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/env';
import { doublingConfigOf, marketOptionsOf, parsePipelineConfig } from './config';

const URL = 'postgresql://u:p@127.0.0.1:5432/trading';

describe('pipeline config', () => {
  it('needs only TRADING_DATABASE_URL and documents every default', () => {
    expect(parsePipelineConfig({ TRADING_DATABASE_URL: URL, UNRELATED: 'x', WORKER_BATCH_SIZE: '' })).toEqual({
      TRADING_DATABASE_URL: URL,
      LOG_LEVEL: 'info',
      MARKET_DATA: 'simulated',
      MARKET_TIMEOUT_MS: 10_000,
      SIMULATED_MARKET_SEED: 42,
      INGEST_CRON: '*/5 * * * *',
      TRACK_RECORD_CRON: '0 * * * *',
      TRACK_RECORD_HISTORY_CANDLES: 2000,
      TRACK_RECORD_DRAWS: 500,
      TRACK_RECORD_SEED: 20_240_101,
      CANDLE_LOOKBACK: 1000,
      DOUBLING_SCORE_DELTA: 10,
      DOUBLING_MAX_VOL: 1.2,
      DOUBLING_COOLDOWN_CANDLES: 4,
      DOUBLING_MAX_POSITION_PCT: 10,
      SIGNAL_POSITION_PCT: 5,
      SIGNAL_PUBLISH: 'edge',
      TRACK_RECORD_HORIZON_CANDLES: 24,
      TRACK_RECORD_FEE_PCT: 0.1,
      WORKER_BATCH_SIZE: 50,
      WORKER_CONCURRENCY: 4,
      WORKER_POLL_SECONDS: 2,
      PIPELINE_DB_POOL_MAX: 10,
      PGBOSS_POOL_MAX: 10,
      DB_PREPARED_STATEMENTS: true,
      JOB_RETRY_LIMIT: 4,
      JOB_RETRY_DELAY_SECONDS: 5,
      JOB_RETRY_DELAY_MAX_SECONDS: 300,
      JOB_EXPIRE_SECONDS: 30,
      JOB_MONITOR_SECONDS: 5,
      INGEST_CATCH_UP_CANDLES: 60,
      INGEST_MAX_GAP_CANDLES: 10_000,
    });
  });

  it.each([
    [{}, /TRADING_DATABASE_URL/],
    [{ TRADING_DATABASE_URL: 'mysql://x' }, /TRADING_DATABASE_URL: must be a postgres/],
    [{ TRADING_DATABASE_URL: URL, MARKET_DATA: 'coinbase' }, /MARKET_DATA.*\(got "coinbase"\)/],
    [{ TRADING_DATABASE_URL: URL, INGEST_CRON: 'every 5 minutes' }, /INGEST_CRON: must be a cron expression/],
    [{ TRADING_DATABASE_URL: URL, CANDLE_LOOKBACK: '20' }, /CANDLE_LOOKBACK/],
    [{ TRADING_DATABASE_URL: URL, WORKER_POLL_SECONDS: '0.1' }, /WORKER_POLL_SECONDS/],
    [{ TRADING_DATABASE_URL: URL, MARKET_DATA: 'cryptometer' }, /CRYPTOMETER_API_KEY: required/],
    [{ TRADING_DATABASE_URL: URL, KINGFISHER_LOGIN: 'me' }, /KINGFISHER_PASSWORD/],
    [{ TRADING_DATABASE_URL: URL, DB_PREPARED_STATEMENTS: 'yes' }, /DB_PREPARED_STATEMENTS/],
    [{ TRADING_DATABASE_URL: URL, TRACK_RECORD_DRAWS: '100' }, /TRACK_RECORD_DRAWS/],
    [{ TRADING_DATABASE_URL: URL, DOUBLING_COOLDOWN_CANDLES: '1.5' }, /DOUBLING_COOLDOWN_CANDLES/],
    [{ TRADING_DATABASE_URL: URL, SIGNAL_PUBLISH: 'some' }, /SIGNAL_PUBLISH/],
  ])('rejects %j', (env, message) => {
    expect(() => parsePipelineConfig(env)).toThrow(ConfigError);
    expect(() => parsePipelineConfig(env)).toThrow(message);
  });

  it('never echoes secrets in its errors', () => {
    expect(() => parsePipelineConfig({ TRADING_DATABASE_URL: 'secret-not-a-url' })).not.toThrow(/secret-not-a-url/);
  });

  it('maps to the market-source and guardrail options', () => {
    const config = parsePipelineConfig({
      TRADING_DATABASE_URL: URL,
      MARKET_DATA: 'cryptometer',
      CRYPTOMETER_API_KEY: 'k',
      KINGFISHER_LOGIN: 'l',
      KINGFISHER_PASSWORD: 'p',
      DOUBLING_COOLDOWN_CANDLES: '6',
    });
    expect(marketOptionsOf(config)).toMatchObject({
      provider: 'cryptometer',
      cryptometer: { apiKey: 'k' },
      kingfisher: { login: 'l', password: 'p' },
    });
    expect(doublingConfigOf(config)).toEqual({ scoreDelta: 10, maxRealizedVol: 1.2, cooldownCandles: 6, maxPositionPct: 10 });
  });
});
