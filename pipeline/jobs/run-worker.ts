import type { Job, JobResult, PgBoss, WorkOptions } from 'pg-boss';
import type { z } from 'zod';
import type { Logger } from '../../common/logger';
import { createBatcher } from '../storage/batcher';
import type { JobMetrics } from './job-metrics';
import type { QueueName } from './queues';

/**
 * Queue depth (jobs created or waiting to retry) for the log line, sampled at
 * most once a second per queue: counting on every job would cost a query per
 * job. Reads pg-boss's own table through its connection.
 */
export function createDepthSampler(boss: PgBoss, schema: string, maxAgeMs = 1000) {
  const cache = new Map<string, { depth: number | null; at: number; refreshing: boolean }>();
  // `not blocked` matches pg-boss's own partial index (job_i11), so this stays an index count.
  const sql = `select count(*)::int as depth from ${schema}.job where name = $1 and state < 'active' and not blocked`;
  return {
    /** The last sampled depth (null before the first sample); refreshes in the background when stale. */
    depth(queue: string): number | null {
      let entry = cache.get(queue);
      if (!entry) cache.set(queue, (entry = { depth: null, at: 0, refreshing: false }));
      if (!entry.refreshing && Date.now() - entry.at > maxAgeMs) {
        entry.refreshing = true;
        const e = entry;
        boss
          .getDb()
          .executeSql(sql, [queue])
          .then(({ rows }) => {
            e.depth = Number(rows[0]?.depth ?? 0);
          })
          .catch(() => undefined)
          .finally(() => {
            e.at = Date.now();
            e.refreshing = false;
          });
      }
      return entry.depth;
    },
  };
}
export type DepthSampler = ReturnType<typeof createDepthSampler>;

export interface JobOutcome<F> {
  /** Added to the job's log line. */
  log: Record<string, unknown>;
  /** Work for another queue, sent once for the whole batch (see `sendFollowUps`). */
  followUp?: F | null;
}

export interface WorkerSpec<T, F = never> {
  queue: QueueName;
  schema: z.ZodType<T>;
  options: Pick<WorkOptions, 'batchSize' | 'localConcurrency' | 'pollingIntervalSeconds'>;
  /** Does the job. Throw to have pg-boss retry it (alone: batch-mates are settled on their own). */
  handle(data: T, job: Job<unknown>): Promise<JobOutcome<F>>;
  /**
   * An error no retry can mend (the market does not list the pair): the job
   * goes straight to the dead-letter queue instead of asking again
   * JOB_RETRY_LIMIT times, each against the shared rate limit.
   */
  isPermanent?(err: unknown): boolean;
  /**
   * Sends follow-ups, many in one statement: each job's is sent as soon as
   * the job is done (coalesced with those of the jobs finishing beside it),
   * not when its whole batch is, so a slow batch-mate never holds back
   * another watcher's next step. If it fails, the job is failed too, so its
   * retry asks again.
   */
  sendFollowUps?(followUps: readonly F[]): Promise<void>;
}

interface Settled {
  result: JobResult;
  line: Record<string, unknown>;
  ms: number;
}

/**
 * Registers a handler with pg-boss and settles each job of a batch on its
 * own (`perJobResults`): one failing watcher is retried alone, never its
 * batch-mates. A payload that does not parse can never succeed, so it goes
 * straight to the dead-letter queue. One log line per job.
 */
export async function registerWorker<T extends { symbol?: string; timeframe?: string }, F = never>(
  boss: PgBoss,
  spec: WorkerSpec<T, F>,
  deps: { log: Logger; depth: DepthSampler; metrics?: JobMetrics },
): Promise<string> {
  const { log, depth } = deps;
  const send = spec.sendFollowUps;
  const sendFollowUp = send
    ? createBatcher<F, void>({
        many: async (followUps) => {
          await send(followUps);
          return followUps.map(() => undefined);
        },
        one: (followUp) => send([followUp]),
      })
    : undefined;

  async function runOne(job: Job<unknown>): Promise<Settled> {
    const started = performance.now();
    const parsed = spec.schema.safeParse(job.data);
    if (!parsed.success) {
      log.error({ queue: spec.queue, jobId: job.id, issues: parsed.error.issues }, 'job payload invalid, dead-lettered');
      return { result: { id: job.id, status: 'deadletter', output: { message: 'invalid payload' } }, line: {}, ms: 0 };
    }
    const line = { queue: spec.queue, jobId: job.id, symbol: parsed.data.symbol, timeframe: parsed.data.timeframe, attempt: job.retryCount };
    try {
      const outcome = await spec.handle(parsed.data, job);
      if (outcome.followUp != null && sendFollowUp) {
        try {
          await sendFollowUp(outcome.followUp);
        } catch (err) {
          throw new Error(`sending follow-up jobs failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      return {
        result: { id: job.id, status: 'completed', output: outcome.log },
        line: { ...line, ...outcome.log },
        ms: performance.now() - started,
      };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const status = spec.isPermanent?.(err) ? 'deadletter' : 'failed';
      return { result: { id: job.id, status, output: { message } }, line: { ...line, err: message }, ms: performance.now() - started };
    }
  }

  return boss.work<unknown>(
    spec.queue,
    {
      ...spec.options,
      // NOTIFY wakes workers for new jobs, but not for retries coming due or deferred jobs: keep
      // polling at the normal pace rather than pg-boss's 30 s notify backstop.
      notifyPollingIntervalSeconds: spec.options.pollingIntervalSeconds,
      perJobResults: true,
      burstWhenBatchFull: true,
    },
    async (jobs): Promise<JobResult[]> => {
      const settled = await Promise.all(jobs.map(runOne));
      const queueDepth = depth.depth(spec.queue);
      for (const s of settled) {
        deps.metrics?.observe(spec.queue, s.result.status, s.ms / 1000);
        const entry = { ...s.line, job_ms: Math.round(s.ms), queue_depth: queueDepth };
        if (s.result.status === 'completed') log.info(entry, 'job done');
        else if (s.result.status === 'failed') log.warn(entry, 'job failed, pg-boss retries it');
        else if ('err' in s.line) log.warn(entry, 'job failed for good, dead-lettered');
      }
      return settled.map((s) => s.result);
    },
  );
}
