import { Hono, type MiddlewareHandler } from 'hono';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics on a registry of our own (not prom-client's global one),
 * so every server built in a test has independent counters.
 */
export function createMetrics() {
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
