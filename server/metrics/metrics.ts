import { Hono, type MiddlewareHandler } from 'hono';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../../common/db';

/**
 * Prometheus metrics on a registry of our own (not prom-client's global one),
 * so every server built in a test has independent counters.
 */
export function createMetrics(deps: { tradingDb?: Db } = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = {
    registry,
    httpRequests: new Counter({ name: 'zmarty_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] }),
    httpDuration: new Histogram({ name: 'zmarty_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['method', 'route'] as const, buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
    sockets: new Gauge({ name: 'zmarty_sockets_connected', help: 'Connected Socket.IO clients', registers: [registry] }),
    chatRequests: new Counter({ name: 'zmarty_chat_requests_total', help: 'Chat answers by provider and final status', labelNames: ['provider', 'status'] as const, registers: [registry] }),
    chatTtft: new Histogram({ name: 'zmarty_chat_time_to_first_token_seconds', help: 'Time from request to first token sent', labelNames: ['provider'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [registry] }),
    creditsCharged: new Counter({ name: 'zmarty_credits_charged_total', help: 'Credits charged', labelNames: ['provider'] as const, registers: [registry] }),
    signalsPushed: new Counter({ name: 'zmarty_signals_pushed_total', help: 'signal:new events emitted by this instance', registers: [registry] }),
  };
  if (deps.tradingDb) registerTrackRecordMetrics(registry, deps.tradingDb);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Counts and times every request by its route pattern (not the raw path, which would explode cardinality). */
export function metricsMiddleware(metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    const stop = metrics.httpDuration.startTimer();
    await next();
    const route = c.req.routePath || 'unmatched';
    stop({ method: c.req.method, route });
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
  };
}

export function createMetricsRoutes(metrics: Metrics) {
  const app = new Hono();
  app.get('/', async (c) => c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }));
  return app;
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
