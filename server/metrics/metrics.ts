import { Hono, type MiddlewareHandler } from 'hono';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../../common/db';
import type { AttemptReport, ProviderName } from '../router/router.types';
import type { Health } from '../health/health';
import type { QueueDepthReader } from '../health/queue-depth';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The operator's own routes: probes and scrapes are not traffic, and a 503 from a
 * failing /healthz is its own alert, so the error rate leaves them out.
 */
export const OPERATIONS_ROUTES: readonly string[] = ['/healthz', '/metrics'];

/** "2xx" … "5xx": the error rate per route is the 5xx share, without one series per exact status. */
export const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;

/**
 * Prometheus metrics on a registry of our own (not prom-client's global one),
 * so every server built in a test has independent counters. Counters and
 * histograms count this instance's own work (sum them across instances);
 * the gauges read from the databases (queue depth, win rate) describe shared
 * state and are the same on every instance (aggregate them with max).
 */
export function createMetrics(deps: { tradingDb?: Db; queues?: QueueDepthReader } = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const lastSuccess = new Map<ProviderName, number>();
  const metrics = {
    registry,
    httpRequests: new Counter({ name: 'zmarty_http_requests_total', help: 'HTTP requests by route template and status class', labelNames: ['method', 'route', 'status_class'] as const, registers: [registry] }),
    httpDuration: new Histogram({ name: 'zmarty_http_request_duration_seconds', help: 'HTTP request duration by route template', labelNames: ['method', 'route'] as const, buckets: LATENCY_BUCKETS, registers: [registry] }),
    socketEvents: new Counter({ name: 'zmarty_socket_events_total', help: 'Socket.IO events handled, by event and ack outcome (ok, client_error, server_error, no_ack)', labelNames: ['event', 'outcome'] as const, registers: [registry] }),
    socketDuration: new Histogram({ name: 'zmarty_socket_event_duration_seconds', help: 'Socket.IO event to its ack, by event', labelNames: ['event'] as const, buckets: LATENCY_BUCKETS, registers: [registry] }),
    sockets: new Gauge({ name: 'zmarty_sockets_connected', help: 'Connected Socket.IO clients', registers: [registry] }),
    chatRequests: new Counter({ name: 'zmarty_chat_requests_total', help: 'Chat answers by provider and final status', labelNames: ['provider', 'status'] as const, registers: [registry] }),
    chatTtft: new Histogram({ name: 'zmarty_chat_time_to_first_token_seconds', help: 'Time from request to first token sent, by the provider that answered', labelNames: ['provider'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [registry] }),
    chatEarlyStarts: new Counter({
      name: 'zmarty_chat_early_provider_starts_total',
      help: 'Provider calls sent while the reservation was being made, by outcome: used, or cancelled unused (refused, answered from the cache, granted less, or the watchlist changed)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    creditsCharged: new Counter({ name: 'zmarty_credits_charged_total', help: 'Credits charged, by the provider that answered', labelNames: ['provider'] as const, registers: [registry] }),
    providerAttempts: new Counter({ name: 'zmarty_provider_attempts_total', help: 'Model provider attempts by outcome (complete, incomplete, aborted, failed, skipped) and reason (error kind, circuit_open, over_budget)', labelNames: ['provider', 'outcome', 'reason'] as const, registers: [registry] }),
    providerFallbacks: new Counter({ name: 'zmarty_provider_fallbacks_total', help: 'Answers that moved on from one provider to the next (failed or skipped before the first token)', labelNames: ['from', 'to'] as const, registers: [registry] }),
    cacheLookups: new Counter({ name: 'zmarty_cache_lookups_total', help: 'Cache lookups by cache and result (hit, miss)', labelNames: ['cache', 'result'] as const, registers: [registry] }),
    signalsPushed: new Counter({ name: 'zmarty_signals_pushed_total', help: 'signal:new events emitted by this instance', registers: [registry] }),

    /** One lookup of a cache (the caches call this through their `onCacheLookup` callback). */
    recordCacheLookup(cache: string, hit: boolean): void {
      metrics.cacheLookups.inc({ cache, result: hit ? 'hit' : 'miss' });
    },

    /**
     * The router's attempt observer: counts attempts and fallbacks, and keeps
     * each provider's last success for /healthz. `earlier` are the attempts of
     * the same answer before this one: a change of provider is a fallback.
     */
    observeAttempt(report: AttemptReport, earlier: readonly AttemptReport[]): void {
      metrics.providerAttempts.inc({ provider: report.provider, outcome: report.outcome, reason: report.reason ?? '' });
      const previous = earlier.at(-1);
      if (previous && previous.provider !== report.provider) metrics.providerFallbacks.inc({ from: previous.provider, to: report.provider });
      if (report.outcome === 'complete') lastSuccess.set(report.provider, Date.now());
    },

    /**
     * Exports /healthz's checks as `zmarty_health_check_up{check}` (1 passing,
     * 0 failing), read from the same cached report at scrape time. Separate
     * from creation because the health checks read this instance's metrics.
     */
    watchHealth(health: Health): void {
      new Gauge({
        name: 'zmarty_health_check_up',
        help: "This instance's /healthz checks: 1 passing, 0 failing",
        labelNames: ['check'] as const,
        registers: [registry],
        async collect() {
          this.reset();
          const report = await health.check();
          for (const [check, result] of Object.entries(report.checks)) this.set({ check }, result.ok ? 1 : 0);
        },
      });
    },

    /** When each provider last completed an answer on this instance (ms since epoch), if ever. */
    lastProviderSuccess(provider: ProviderName): number | undefined {
      return lastSuccess.get(provider);
    },
  };
  if (deps.tradingDb) registerTrackRecordMetrics(registry, deps.tradingDb);
  if (deps.queues) registerQueueMetrics(registry, deps.queues);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Counts and times every request by its route template (`/api/conversations/:id`,
 * never the raw path, which would explode cardinality); anything no route
 * matched (404s, probes) is `unmatched`.
 */
export function metricsMiddleware(metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    const stop = metrics.httpDuration.startTimer();
    await next();
    const matched = c.req.routePath;
    const route = !matched || matched === '/*' || matched === '*' ? 'unmatched' : matched;
    stop({ method: c.req.method, route });
    metrics.httpRequests.inc({ method: c.req.method, route, status_class: statusClass(c.res.status) });
  };
}

export function createMetricsRoutes(metrics: Metrics) {
  const app = new Hono();
  app.get('/', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  return app;
}

/**
 * Queue depth per pg-boss queue, read from the trading database at scrape
 * time through the shared, briefly cached reader (the same one /healthz and
 * the alerts use). Job durations are the worker's own (pipeline metrics).
 */
function registerQueueMetrics(registry: Registry, queues: QueueDepthReader) {
  const gauge = (name: string, help: string, pick: (q: { waiting: number; active: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['queue'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const read = await queues.read();
        for (const [queue, depth] of Object.entries(read.queues)) this.set({ queue }, pick(depth));
      },
    });
  gauge('zmarty_queue_depth', 'Jobs waiting (created or retry) per pg-boss queue: shared state, the same on every instance', (q) => q.waiting);
  gauge('zmarty_queue_active_jobs', 'Jobs being worked on per pg-boss queue: shared state, the same on every instance', (q) => q.active);
}

/**
 * Win-rate accuracy per timeframe, read from the track record (the `all`
 * window of every pair: independent trades, fees included) at scrape time,
 * so every instance reports the same figures and nothing is kept in memory.
 * Each gauge reads for itself: prom-client collects gauges concurrently, so
 * one gauge's collect cannot fill another. A scrape while the trading
 * database is down reports nothing for these.
 */
function registerTrackRecordMetrics(registry: Registry, tradingDb: Db) {
  type Row = { timeframe: string; trades: number; wins: number; positive: number };
  const read = () =>
    tradingDb.query<Row>(
      `select timeframe, sum(trades)::int as trades, sum(wins)::int as wins, count(*) filter (where edge = 'positive')::int as positive
       from public.track_record where window_name = 'all' group by timeframe order by timeframe`,
    );
  const gauge = (name: string, help: string, value: (r: Row) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['timeframe'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const rows = await read().catch(() => [] as Row[]);
        for (const r of rows) {
          const v = value(r);
          if (v !== null) this.set({ timeframe: r.timeframe }, v);
        }
      },
    });
  gauge(
    'zmarty_signal_win_rate_accuracy_percent',
    'Winning trades (net of fees) following the signals, % of all pairs of the timeframe (walk-forward track record, all window)',
    (r) => (r.trades > 0 ? (r.wins / r.trades) * 100 : null),
  );
  gauge('zmarty_signal_track_record_trades', 'Independent trades behind the win-rate accuracy, per timeframe', (r) => r.trades);
  gauge('zmarty_signal_positive_edge_pairs', 'Pairs whose signals beat the coin-flip baseline (edge positive), per timeframe', (r) => r.positive);
}
