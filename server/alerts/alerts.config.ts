import { z } from 'zod';
import { parseConfig } from '../../common/env';

/**
 * Health-check and alert settings (README, "Operations"). The same
 * thresholds are written into docs/prometheus-alerts.yml for teams that
 * alert from Prometheus instead.
 */
export const opsEnvSchema = z.object({
  ALERT_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  ALERT_QUEUE_DEPTH: z.coerce.number().int().min(1).max(1_000_000).default(100),
  ALERT_ERROR_RATE_PERCENT: z.coerce.number().gt(0).max(100).default(5),
  ALERT_ERROR_RATE_MIN_REQUESTS: z.coerce.number().int().min(1).max(1_000_000).default(20),
  ALERT_PROVIDER_ERRORS: z.coerce.number().int().min(1).max(1_000_000).default(5),
  ALERT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  ALERT_EVALUATE_MS: z.coerce.number().int().min(100).max(3_600_000).default(15_000),
  HEALTH_DB_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  HEALTH_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
});

export interface OpsConfig {
  /** Slack-compatible incoming webhook; unset = alerts are log events only. */
  webhookUrl?: string;
  queueDepth: number;
  errorRatePercent: number;
  errorRateMinRequests: number;
  providerErrors: number;
  windowSeconds: number;
  evaluateMs: number;
  health: { dbTimeoutMs: number; cacheMs: number };
}

export function opsConfigFromEnv(source: Record<string, string | undefined>): OpsConfig {
  const e = parseConfig(opsEnvSchema, source);
  return {
    webhookUrl: e.ALERT_WEBHOOK_URL,
    queueDepth: e.ALERT_QUEUE_DEPTH,
    errorRatePercent: e.ALERT_ERROR_RATE_PERCENT,
    errorRateMinRequests: e.ALERT_ERROR_RATE_MIN_REQUESTS,
    providerErrors: e.ALERT_PROVIDER_ERRORS,
    windowSeconds: e.ALERT_WINDOW_SECONDS,
    evaluateMs: e.ALERT_EVALUATE_MS,
    health: { dbTimeoutMs: e.HEALTH_DB_TIMEOUT_MS, cacheMs: e.HEALTH_CACHE_MS },
  };
}
