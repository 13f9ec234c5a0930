/**
 * The alert rules, as a pure function of what every instance reported (see
 * alerts.ts). The same rules ship for Prometheus in docs/prometheus-alerts.yml.
 */

/** What the instances together saw over the window. */
export interface OpsSnapshot {
  /** HTTP responses and acked socket events, and how many of them were server errors. */
  requests: number;
  errors: number;
  /** Failed model-provider attempts per provider. */
  providerErrors: Record<string, number>;
  /** Health checks failing on live instances (their latest sample), with how many instances fail each. */
  failingChecks: Record<string, number>;
  /** Jobs waiting per queue; undefined when the trading database could not be read. */
  queues?: Record<string, number>;
}

export interface AlertThresholds {
  queueDepth: number;
  errorRatePercent: number;
  errorRateMinRequests: number;
  providerErrors: number;
  windowSeconds: number;
}

/** Every alert is named `<family>:<subject>` (or just `error_rate`). */
export const ALERT_FAMILIES = ['queue_depth', 'error_rate', 'health', 'provider_errors'] as const;
export type AlertFamily = (typeof ALERT_FAMILIES)[number];

export interface AlertVerdicts {
  firing: Array<{ name: string; message: string }>;
  /** The families this snapshot could judge: a firing alert of one of them that is not in `firing` resolves. */
  evaluated: AlertFamily[];
}

export const familyOf = (name: string) => name.split(':')[0] as AlertFamily;

export function evaluateAlerts(s: OpsSnapshot, t: AlertThresholds): AlertVerdicts {
  const firing: AlertVerdicts['firing'] = [];
  const evaluated: AlertFamily[] = ['error_rate', 'health', 'provider_errors'];

  if (s.queues) {
    evaluated.push('queue_depth');
    for (const [queue, waiting] of Object.entries(s.queues)) {
      // Dead letters are kept for inspection, not worked off: their count is not a backlog.
      if (!queue.endsWith('_dlq') && waiting > t.queueDepth) {
        firing.push({ name: `queue_depth:${queue}`, message: `Queue ${queue} has ${waiting} jobs waiting (threshold ${t.queueDepth})` });
      }
    }
  }

  const rate = s.requests > 0 ? (s.errors / s.requests) * 100 : 0;
  if (s.requests >= t.errorRateMinRequests && rate > t.errorRatePercent) {
    firing.push({
      name: 'error_rate',
      message: `Server error rate ${rate.toFixed(1)} % over the last ${t.windowSeconds} s (${s.errors} of ${s.requests} requests; threshold ${t.errorRatePercent} %)`,
    });
  }

  for (const [check, instances] of Object.entries(s.failingChecks)) {
    firing.push({ name: `health:${check}`, message: `Health check "${check}" failing on ${instances} instance${instances === 1 ? '' : 's'}` });
  }

  for (const [provider, errors] of Object.entries(s.providerErrors)) {
    if (errors >= t.providerErrors) {
      firing.push({
        name: `provider_errors:${provider}`,
        message: `Provider ${provider}: ${errors} failed API calls in the last ${t.windowSeconds} s (threshold ${t.providerErrors})`,
      });
    }
  }
  return { firing, evaluated };
}
