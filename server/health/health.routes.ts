import { Hono } from 'hono';
import type { Health } from './health';

export interface HealthRoutesDeps {
  health: Health;
  /** Extra reports that never fail the check (e.g. the voice cache, the relay's leadership). */
  reports?: Record<string, () => unknown>;
}

/** `GET /healthz`: 200 when every check passes, 503 with `failed` naming the checks that did not. */
export function createHealthRoutes(deps: HealthRoutesDeps) {
  const app = new Hono();
  app.get('/', async (c) => {
    const report = await deps.health.check();
    const reports = Object.fromEntries(Object.entries(deps.reports ?? {}).map(([name, read]) => [name, read()]));
    return c.json({ ...report, ...reports }, report.failed.length ? 503 : 200);
  });
  return app;
}
