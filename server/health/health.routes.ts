import { Hono } from 'hono';
import type { Db } from '../../common/db';

export interface HealthDeps {
  databases: Record<string, Db>;
  /** Extra reports that never fail the check (e.g. each model provider's circuit state). */
  reports?: Record<string, () => unknown>;
  timeoutMs?: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}

/** `GET /healthz`: 200 when every database answers, 503 naming the check that failed. */
export function createHealthRoutes(deps: HealthDeps) {
  const app = new Hono();
  app.get('/', async (c) => {
    const timeoutMs = deps.timeoutMs ?? 2000;
    const checks: Record<string, { ok: boolean; ms: number; error?: string }> = {};
    await Promise.all(
      Object.entries(deps.databases).map(async ([name, db]) => {
        const started = performance.now();
        try {
          await withTimeout(db.query('select 1'), timeoutMs);
          checks[name] = { ok: true, ms: Math.round(performance.now() - started) };
        } catch (err) {
          checks[name] = { ok: false, ms: Math.round(performance.now() - started), error: err instanceof Error ? err.message : 'failed' };
        }
      }),
    );
    const reports = Object.fromEntries(Object.entries(deps.reports ?? {}).map(([name, report]) => [name, report()]));
    const failed = Object.entries(checks).filter(([, check]) => !check.ok).map(([name]) => name);
    return c.json({ status: failed.length ? 'unavailable' : 'ok', failed, checks, ...reports }, failed.length ? 503 : 200);
  });
  return app;
}
