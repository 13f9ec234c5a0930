import { z } from 'zod';
import { ConfigError, envSchema, parseConfig } from '../common/env';
import { marketEnvSchema } from '../common/market-env';
import type { SymbolDirectoryOptions } from './symbols/symbol-directory';
import { DEFAULT_PRICE_TABLE, parsePriceTable, type PriceTable } from './credits/pricing';
import { routerEnvSchema, routerOptionsFromEnv, type RouterOptions } from './router';
import { voiceEnvSchema, voiceOptionsFromEnv, type VoiceOptions } from './voice';
import { opsConfigFromEnv, opsEnvSchema, type OpsConfig } from './alerts/alerts.config';

/**
 * The web process's settings: the common ones plus chat, voice, credits and
 * watchers sync. Parsed once at start; a bad value stops the start with one
 * line per variable. Every variable is documented in README.
 */
const serverOnlySchema = z.object({
  PRICE_TABLE: z.string().optional(),
  // Seeds of the `free` tier's row (the tier table holds every per-user limit): unset leaves the table as it is.
  CHAT_MAX_OUTPUT_TOKENS: z.coerce.number().int().min(16).max(16_384).optional(),
  CHAT_MAX_CONCURRENT_PER_USER: z.coerce.number().int().min(1).max(1000).optional(),
  CHAT_MAX_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).optional(),
  /** How long an instance trusts a user's tier before reading it again (0 = read on every answer). */
  TIER_CACHE_MS: z.coerce.number().int().min(0).max(3_600_000).default(300_000),
  CHAT_TOKEN_COALESCE_MS: z.coerce.number().int().min(0).max(200).default(16),
  CHAT_TOKEN_EVENTS_PER_SECOND: z.coerce.number().int().min(0).max(1_000_000).default(2000),
  CHAT_EARLY_PROVIDER_START: z.enum(['true', 'false', '1', '0']).default('true'),
  CHAT_ANSWER_CACHE_TTL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(900),
  CHAT_CONTEXT_MAX_AGE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(600_000).default(20_000),
  ANSWER_HEARTBEAT_MS: z.coerce.number().int().min(50).max(60_000).default(5_000),
  ANSWER_STALE_MS: z.coerce.number().int().min(200).max(3_600_000).default(30_000),
  RESERVATION_SWEEP_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
  ANSWER_JOURNAL_FLUSH_MS: z.coerce.number().int().min(10).max(5_000).default(100),
  WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  WEBHOOK_TOLERANCE_MS: z.coerce.number().int().min(100).max(600_000).default(1000),
  WATCHERS_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** How long the market source's list of tradable pairs is trusted before it is fetched again. */
  SYMBOL_LIST_TTL_SECONDS: z.coerce.number().int().min(1).max(7 * 86_400).default(3600),
  ...marketEnvSchema.shape,
});

export interface ServerConfig {
  router: RouterOptions;
  voice: VoiceOptions;
  priceTable: PriceTable;
  chat: {
    tokenCoalesceMs: number;
    /** Token events per second the process aims to stay under (0 = the window is always tokenCoalesceMs). */
    tokenEventsPerSecond: number;
    /** Ask the provider while the reservation is being made when this instance expects it granted (chat.service expectsGrant). */
    earlyProviderStart: boolean;
    /** How long a cached answer is served at most (0 = no answer cache). */
    answerCacheTtlMs: number;
    /** How long a pair's market context is trusted without a new-signal notification. */
    contextMaxAgeMs: number;
  };
  /**
   * Per-user limits live in the tier table; these set its rows at start when
   * the variables are set (CHAT_MAX_* → `free`, STARTING_CREDITS_<TIER>), and
   * `cacheMs` is how long an instance trusts a user's tier.
   */
  tiers: { cacheMs: number; freeSeed: { maxOutputTokens?: number; maxConcurrent?: number; chatPerMinute?: number } };
  webhook: { secret?: string; toleranceMs: number; url?: string };
  /** Graceful shutdown and crash recovery of answers in flight. */
  lifecycle: { shutdownDrainMs: number; heartbeatMs: number; staleMs: number; sweepMs: number; /** Answer journal writes, and resume's reads of another instance's answer. */ journalFlushMs: number };
  /** The market the worker reads (MARKET_DATA …): new pairs are checked against its list. */
  market: Omit<SymbolDirectoryOptions, 'fetch' | 'now' | 'log'>;
  /** /healthz and alerts. */
  ops: OpsConfig;
}

export function parseServerConfig(source: Record<string, string | undefined>): ServerConfig {
  const e = parseConfig(serverOnlySchema, source);
  if (e.ANSWER_STALE_MS <= 2 * e.ANSWER_HEARTBEAT_MS) {
    throw new ConfigError(`Invalid configuration:\n  ANSWER_STALE_MS: must exceed two heartbeats (2 × ANSWER_HEARTBEAT_MS = ${2 * e.ANSWER_HEARTBEAT_MS})`);
  }
  if (e.MARKET_DATA === 'cryptometer' && !e.CRYPTOMETER_API_KEY) {
    throw new ConfigError('Invalid configuration:\n  CRYPTOMETER_API_KEY: required when MARKET_DATA=cryptometer');
  }
  // A function deployed elsewhere (a Supabase Edge Function) verifies with the
  // secret it was given; the one generated under DATA_DIR can never match it.
  if (e.WATCHERS_WEBHOOK_URL && !e.WEBHOOK_SECRET) {
    throw new ConfigError(
      'Invalid configuration:\n  WEBHOOK_SECRET: required when WATCHERS_WEBHOOK_URL is set (the same secret as the deployed function\'s: `supabase secrets set WEBHOOK_SECRET=…`)',
    );
  }
  let priceTable: PriceTable = DEFAULT_PRICE_TABLE;
  if (e.PRICE_TABLE) {
    try {
      priceTable = parsePriceTable(e.PRICE_TABLE);
    } catch (err) {
      throw new ConfigError(`PRICE_TABLE: ${(err as Error).message.replace(/^Invalid[^:]*:\s*/, '')}`);
    }
  }
  return {
    router: routerOptionsFromEnv(source),
    voice: voiceOptionsFromEnv(source),
    ops: opsConfigFromEnv(source),
    priceTable,
    chat: {
      tokenCoalesceMs: e.CHAT_TOKEN_COALESCE_MS,
      tokenEventsPerSecond: e.CHAT_TOKEN_EVENTS_PER_SECOND,
      earlyProviderStart: e.CHAT_EARLY_PROVIDER_START === 'true' || e.CHAT_EARLY_PROVIDER_START === '1',
      answerCacheTtlMs: e.CHAT_ANSWER_CACHE_TTL_SECONDS * 1000,
      contextMaxAgeMs: e.CHAT_CONTEXT_MAX_AGE_SECONDS * 1000,
    },
    tiers: {
      cacheMs: e.TIER_CACHE_MS,
      freeSeed: { maxOutputTokens: e.CHAT_MAX_OUTPUT_TOKENS, maxConcurrent: e.CHAT_MAX_CONCURRENT_PER_USER, chatPerMinute: e.CHAT_MAX_PER_MINUTE },
    },
    webhook: { secret: e.WEBHOOK_SECRET, toleranceMs: e.WEBHOOK_TOLERANCE_MS, url: e.WATCHERS_WEBHOOK_URL },
    lifecycle: { shutdownDrainMs: e.SHUTDOWN_DRAIN_MS, heartbeatMs: e.ANSWER_HEARTBEAT_MS, staleMs: e.ANSWER_STALE_MS, sweepMs: e.RESERVATION_SWEEP_MS, journalFlushMs: e.ANSWER_JOURNAL_FLUSH_MS },
    market: {
      kind: e.MARKET_DATA,
      binance: { baseUrl: e.BINANCE_BASE_URL },
      cryptometer: e.CRYPTOMETER_API_KEY ? { apiKey: e.CRYPTOMETER_API_KEY, baseUrl: e.CRYPTOMETER_BASE_URL, exchange: e.CRYPTOMETER_EXCHANGE } : undefined,
      timeoutMs: e.MARKET_TIMEOUT_MS,
      ttlMs: e.SYMBOL_LIST_TTL_SECONDS * 1000,
    },
  };
}

/** Every variable name the server reads, for the "unknown variable" hint and docs. */
export const SERVER_VARIABLES = [
  ...Object.keys(envSchema.shape),
  ...Object.keys(serverOnlySchema.shape),
  ...Object.keys(routerEnvSchema.shape),
  ...Object.keys(voiceEnvSchema.shape),
  ...Object.keys(opsEnvSchema.shape),
];
