import type { Db } from '../../common/db';
import type { Logger } from '../../common/logger';
import type { Health } from '../health/health';
import type { QueueDepthReader } from '../health/queue-depth';
import { OPERATIONS_ROUTES, type Metrics } from '../metrics/metrics';
import { evaluateAlerts, type AlertThresholds } from './alert-rules';
import { createAlertsQueries, type AlertChange } from './alerts.queries';

export interface AlertsDeps {
  chatDb: Db;
  metrics: Metrics;
  health: Health;
  queues: QueueDepthReader;
  log: Logger;
  /** This process, on its samples. */
  instanceId: string;
  thresholds: AlertThresholds;
  evaluateMs: number;
  /** Slack-compatible incoming webhook: `{"text": …}` is posted to it. */
  webhookUrl?: string;
  fetch?: typeof globalThis.fetch;
}

const MAX_POST_ATTEMPTS = 10;
const POST_TIMEOUT_MS = 5000;

/**
 * Alerts for the operator: queue depth, server error rate, failing health
 * checks and provider API errors, as one structured log event and (with a
 * webhook) one Slack-compatible post when each fires and one when it
 * resolves — across all instances. Every `evaluateMs` each instance records
 * what it saw since its last tick (requests, server errors, failed provider
 * attempts, its failing health checks), then judges the rules over every
 * instance's records (alert-rules.ts), so all reach the same verdict. State
 * changes are single statements in the chat database (alerts.queries.ts):
 * only the instance whose statement changed the row logs it, and the post
 * it queued is delivered by whichever instance claims it first.
 *
 * The chat database is where that coordination lives: while it cannot be
 * reached, each instance logs and posts `health:chat` itself, once per
 * outage (one post per instance, not one in all).
 */
export function createAlerts(deps: AlertsDeps) {
  const queries = createAlertsQueries(deps.chatDb);
  const post = deps.fetch ?? globalThis.fetch;
  const t = deps.thresholds;
  let previous = { requests: 0, errors: 0, providerErrors: {} as Record<string, number> };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let chatDown = false;

  /** This instance's running totals, from its own metrics. */
  async function totals() {
    const [http, socket, attempts] = await Promise.all([deps.metrics.httpRequests.get(), deps.metrics.socketEvents.get(), deps.metrics.providerAttempts.get()]);
    let requests = 0;
    let errors = 0;
    for (const v of http.values) {
      if (OPERATIONS_ROUTES.includes(String(v.labels.route))) continue;
      requests += v.value;
      if (v.labels.status_class === '5xx') errors += v.value;
    }
    for (const v of socket.values) {
      if (v.labels.outcome === 'no_ack') continue;
      requests += v.value;
      if (v.labels.outcome === 'server_error') errors += v.value;
    }
    const providerErrors: Record<string, number> = {};
    for (const v of attempts.values) {
      if (v.labels.outcome === 'failed') providerErrors[String(v.labels.provider)] = (providerErrors[String(v.labels.provider)] ?? 0) + v.value;
    }
    return { requests, errors, providerErrors };
  }

  function announce(change: AlertChange) {
    if (change.state === 'firing') deps.log.error({ alert: change.name, state: change.state, detail: change.message }, `alert firing: ${change.message}`);
    else deps.log.info({ alert: change.name, state: change.state, detail: change.message }, `alert resolved: ${change.message}`);
  }

  async function send(change: AlertChange, instance?: string) {
    const text = `[Zmarty] ${change.state === 'firing' ? 'FIRING' : 'RESOLVED'} ${change.name}${instance ? ` (instance ${instance})` : ''}: ${change.message}`;
    const res = await post(deps.webhookUrl!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
      signal: AbortSignal.timeout(POST_TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`alert webhook answered ${res.status}`);
  }

  async function deliverQueued() {
    for (;;) {
      const n = await queries.claimNotification(60, MAX_POST_ATTEMPTS);
      if (!n) return;
      try {
        await send(n);
        await queries.markSent(n.id);
      } catch (err) {
        deps.log.warn({ alert: n.name, err: err instanceof Error ? err.message : String(err) }, 'alert webhook post failed; retried at the next evaluation');
        await queries.releaseNotification(n.id);
        return;
      }
    }
  }

  /** The chat database is unreachable: nothing can be coordinated, so this instance speaks for itself, once per outage. */
  async function localChatAlert(down: boolean, error?: string) {
    if (down === chatDown) return;
    chatDown = down;
    const change: AlertChange = { name: 'health:chat', state: down ? 'firing' : 'ok', message: `Chat database unreachable from instance ${deps.instanceId}${error ? ` (${error})` : ''}` };
    announce(change);
    if (deps.webhookUrl) await send(change, deps.instanceId).catch((err) => deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'alert webhook post failed'));
  }

  async function tick(): Promise<void> {
    const now = await totals();
    const [report, queueRead] = await Promise.all([deps.health.check(), deps.queues.read()]);
    const sample = {
      instanceId: deps.instanceId,
      requests: now.requests - previous.requests,
      errors: now.errors - previous.errors,
      providerErrors: Object.fromEntries(
        Object.entries(now.providerErrors)
          .map(([p, n]) => [p, n - (previous.providerErrors[p] ?? 0)] as const)
          .filter(([, n]) => n > 0),
      ),
      // Queue depth has its own alert, judged on the newest reading of any instance.
      failingChecks: report.failed.filter((name) => name !== 'queues'),
      queues: queueRead.ok ? { depths: Object.fromEntries(Object.entries(queueRead.queues).map(([q, d]) => [q, d.waiting])), readAt: queueRead.at } : undefined,
    };
    const freshSeconds = (3 * deps.evaluateMs) / 1000;
    try {
      await queries.recordSample(sample, Math.max(2 * t.windowSeconds, freshSeconds));
    } catch (err) {
      await localChatAlert(true, err instanceof Error ? err.message : String(err));
      return;
    }
    previous = now;
    await localChatAlert(false);
    const verdicts = evaluateAlerts(await queries.snapshot(t.windowSeconds, freshSeconds), t);
    const notify = Boolean(deps.webhookUrl);
    const changes = [
      ...(await queries.fire(verdicts.firing, notify)),
      ...(await queries.resolve(verdicts.evaluated, verdicts.firing.map((f) => f.name), notify)),
    ];
    for (const change of changes) announce(change);
    if (notify) await deliverQueued();
  }

  /** One evaluation (never two at once); failures are logged, the next tick tries again. */
  function evaluate(): Promise<void> {
    running ??= tick()
      .catch((err) => deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'alert evaluation failed'))
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  return {
    evaluate,
    start() {
      timer ??= setInterval(() => void evaluate(), deps.evaluateMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}

export type Alerts = ReturnType<typeof createAlerts>;
