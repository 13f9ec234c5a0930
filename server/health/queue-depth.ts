import type { Db } from '../../common/db';

export interface QueueDepths {
  /** False when the trading database could not be read (then `queues` is the last good reading, or empty). */
  ok: boolean;
  error?: string;
  /** Per pg-boss queue: jobs waiting (created or retry, not blocked) and jobs being worked on. */
  queues: Record<string, { waiting: number; active: number }>;
  /** When this reading was taken (ms since epoch). */
  at: number;
}

export interface QueueDepthReader {
  read(): Promise<QueueDepths>;
}

/**
 * The pipeline's queue depths, read by the web process from pg-boss's own
 * tables in the trading database: one statement for every queue, served from
 * a cache for `maxAgeMs` and shared by concurrent callers, so /metrics,
 * /healthz (probed every second) and the alerts together cost at most one
 * query per `maxAgeMs` per instance. Counting jobs `< 'active'` and
 * `not blocked` matches pg-boss's partial index (as the worker's own sampler,
 * pipeline/jobs/run-worker.ts). Before the worker has ever started there is
 * no pg-boss schema: no queues, nothing waiting.
 */
export function createQueueDepthReader(deps: { tradingDb: Db; schema?: string; maxAgeMs?: number; timeoutMs?: number; now?: () => number }): QueueDepthReader {
  const schema = deps.schema ?? 'pgboss';
  const maxAgeMs = deps.maxAgeMs ?? 5000;
  const timeoutMs = deps.timeoutMs ?? 1000;
  const now = deps.now ?? Date.now;
  const sql = `select q.name,
      count(j.id) filter (where j.state < 'active' and not j.blocked)::int as waiting,
      count(j.id) filter (where j.state = 'active')::int as active
    from ${schema}.queue q left join ${schema}.job j on j.name = q.name and j.state < 'completed'
    group by q.name order by q.name`;
  let last: QueueDepths | undefined;
  let inFlight: Promise<QueueDepths> | undefined;

  async function fetch(): Promise<QueueDepths> {
    try {
      const rows = await withTimeout(deps.tradingDb.query<{ name: string; waiting: number; active: number }>(sql), timeoutMs);
      return { ok: true, queues: Object.fromEntries(rows.map((r) => [r.name, { waiting: r.waiting, active: r.active }])), at: now() };
    } catch (err) {
      const code = (err as { code?: string }).code;
      // 3F000 invalid_schema_name, 42P01 undefined_table: pg-boss not installed yet.
      if (code === '3F000' || code === '42P01') return { ok: true, queues: {}, at: now() };
      return { ok: false, error: err instanceof Error ? err.message : String(err), queues: last?.queues ?? {}, at: now() };
    }
  }

  return {
    read() {
      // A failed reading is retried sooner: one slow query must not fail /healthz for the whole cache period.
      if (last && now() - last.at < (last.ok ? maxAgeMs : Math.min(maxAgeMs, 1000))) return Promise.resolve(last);
      inFlight ??= fetch().then((r) => {
        last = r;
        inFlight = undefined;
        return r;
      });
      return inFlight;
    },
  };
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
