import type { Db } from '../../common/db';
import { withTimeout, type QueueDepthReader } from './queue-depth';

export interface CheckResult {
  ok: boolean;
  error?: string;
  [detail: string]: unknown;
}

export interface HealthReport {
  status: 'ok' | 'unavailable';
  /** The checks that failed, by name (empty when healthy). */
  failed: string[];
  checks: Record<string, CheckResult>;
  /** When the checks ran (ISO); a probe within `cacheMs` gets the same report. */
  checkedAt: string;
}

export interface ProviderReachability {
  provider: string;
  model: string;
  /** The circuit breaker's state: `open` = skipped, not called. */
  state: string;
  /** Last answer this provider completed on this instance (ISO), if any. */
  lastSuccessAt?: string;
  [detail: string]: unknown;
}

export interface HealthDeps {
  /** `select 1` on each, bounded by `timeoutMs`. */
  databases: Record<string, Db>;
  /** Each provider's reachability, from state the router already has (no provider is called). */
  providers?: () => { ok: boolean; providers: ProviderReachability[] };
  queues?: QueueDepthReader;
  /** A queue with more jobs waiting than this fails the `queues` check (dead-letter queues excepted). */
  queueDepthThreshold?: number;
  timeoutMs?: number;
  /** Probes within this long of the last run get its report (and concurrent probes share one run). */
  cacheMs?: number;
  now?: () => number;
}

export interface Health {
  check(): Promise<HealthReport>;
}

/**
 * The instance's health: each database answers within `timeoutMs`, at least
 * one model provider can take a request (its breaker is not open), and no
 * pipeline queue is deeper than its threshold. Cheap enough to probe every
 * second: two `select 1`, one cached queue read, no provider call, and the
 * whole report cached for `cacheMs`.
 */
export function createHealth(deps: HealthDeps): Health {
  const timeoutMs = deps.timeoutMs ?? 1000;
  const cacheMs = deps.cacheMs ?? 1000;
  const threshold = deps.queueDepthThreshold ?? 100;
  const now = deps.now ?? Date.now;
  let last: { at: number; report: HealthReport } | undefined;
  let inFlight: Promise<HealthReport> | undefined;

  async function database(db: Db): Promise<CheckResult> {
    const started = performance.now();
    try {
      await withTimeout(db.query('select 1'), timeoutMs);
      return { ok: true, ms: Math.round(performance.now() - started) };
    } catch (err) {
      return { ok: false, ms: Math.round(performance.now() - started), error: err instanceof Error ? err.message : 'failed' };
    }
  }

  async function queues(reader: QueueDepthReader): Promise<CheckResult> {
    const read = await reader.read();
    if (!read.ok) return { ok: false, error: `queue depth unreadable: ${read.error}`, threshold };
    const over = Object.entries(read.queues)
      .filter(([name, q]) => !name.endsWith('_dlq') && q.waiting > threshold)
      .map(([name]) => name);
    const depths = Object.fromEntries(Object.entries(read.queues).map(([name, q]) => [name, q.waiting]));
    return { ok: over.length === 0, ...(over.length ? { error: `over ${threshold} jobs waiting: ${over.join(', ')}` } : {}), threshold, depths };
  }

  function providers(read: NonNullable<HealthDeps['providers']>): CheckResult {
    const { ok, providers: list } = read();
    return { ok, ...(ok ? {} : { error: 'every model provider is unavailable (circuit open)' }), providers: list };
  }

  async function run(): Promise<HealthReport> {
    const entries = Object.entries(deps.databases).map(async ([name, db]): Promise<[string, CheckResult]> => [name, await database(db)]);
    if (deps.providers) entries.push(Promise.resolve(['providers', providers(deps.providers)]));
    if (deps.queues) entries.push(queues(deps.queues).then((r): [string, CheckResult] => ['queues', r]));
    const checks = Object.fromEntries(await Promise.all(entries));
    const failed = Object.entries(checks).filter(([, c]) => !c.ok).map(([name]) => name);
    return { status: failed.length ? 'unavailable' : 'ok', failed, checks, checkedAt: new Date(now()).toISOString() };
  }

  return {
    check() {
      if (last && now() - last.at < cacheMs) return Promise.resolve(last.report);
      inFlight ??= run().then((report) => {
        last = { at: now(), report };
        inFlight = undefined;
        return report;
      });
      return inFlight;
    },
  };
}
