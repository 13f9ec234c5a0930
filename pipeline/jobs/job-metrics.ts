import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * The worker's own Prometheus metrics: how long each job took, per queue and
 * outcome. Measured where the job runs, so each worker counts only the jobs
 * it ran and the series sum across workers without double counting (pg-boss
 * hands each job to one worker). Queue depth, shared state, is exported by
 * the web process (server/health/queue-depth.ts).
 */
export function createJobMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const jobs = new Counter({ name: 'zmarty_jobs_total', help: 'Jobs run by this worker, by queue and outcome (completed, failed, deadletter)', labelNames: ['queue', 'status'] as const, registers: [registry] });
  const duration = new Histogram({
    name: 'zmarty_job_duration_seconds',
    help: 'Job run time in this worker, by queue and outcome',
    labelNames: ['queue', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return {
    registry,
    observe(queue: string, status: string, seconds: number): void {
      jobs.inc({ queue, status });
      duration.observe({ queue, status }, seconds);
    },
  };
}

export type JobMetrics = ReturnType<typeof createJobMetrics>;

/** `GET /metrics` on its own port (WORKER_METRICS_PORT): the worker has no other HTTP server. */
export async function serveJobMetrics(metrics: JobMetrics, port: number, host = '0.0.0.0'): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'GET /metrics only' } }));
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'internal', message: 'Internal error' } })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
