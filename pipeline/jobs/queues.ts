import type { PgBoss, Queue, SendOptions } from 'pg-boss';
import { z } from 'zod';
import { symbolSchema, timeframeSchema } from '../../common/symbols';
import type { WatchKey } from '../domain';

/** The pipeline's queues. Dead letters are `<name>_dlq`. */
export const QUEUES = {
  ingest: 'ingest_indicators',
  signals: 'compute_signals',
  trackRecord: 'compute_track_record',
  /** Fired by INGEST_CRON: fans out one ingest job per active watcher. */
  scheduleIngest: 'schedule_ingest',
  /** Fired by TRACK_RECORD_CRON: fans out one track-record job per active watcher. */
  scheduleTrackRecord: 'schedule_track_record',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const deadLetterOf = (queue: QueueName) => `${queue}_dlq`;

/** Every per-watcher job carries only its key; handlers read the rest from the database. */
export const watchJobSchema = z.object({ symbol: symbolSchema, timeframe: timeframeSchema });
/** compute_signals also names the candle the ingest stored (the handler may find a newer one). */
export const signalJobSchema = watchJobSchema.extend({ candleTime: z.number().int().nonnegative() });
export type SignalJob = z.infer<typeof signalJobSchema>;

/**
 * One key per symbol+timeframe. The work queues use the `stately` policy: per
 * key at most one job queued and one active, so a duplicate send collapses
 * (pg-boss returns null) and two workers never process the same watcher at
 * once. A send while one is active still queues one follow-up, so news that
 * arrives mid-job is not lost.
 */
export const singletonKeyOf = (key: WatchKey) => `${key.symbol}|${key.timeframe}`;

export interface QueueSettings {
  retryLimit: number;
  retryDelaySeconds: number;
  retryDelayMaxSeconds: number;
  expireInSeconds: number;
}

function workQueueOptions(s: QueueSettings): Omit<Queue, 'name'> {
  return {
    retryLimit: s.retryLimit,
    retryDelay: s.retryDelaySeconds,
    retryBackoff: true,
    retryDelayMax: s.retryDelayMaxSeconds,
    expireInSeconds: s.expireInSeconds,
    // Completed jobs are only history; keep a day of it.
    deleteAfterSeconds: 86_400,
  };
}

/**
 * Creates (or brings up to date) every queue. `createQueue` leaves an existing
 * queue untouched, so the retry/expiry settings are re-applied with
 * `updateQueue`: a changed env takes effect on the next start.
 */
export async function ensureQueues(boss: PgBoss, settings: QueueSettings): Promise<void> {
  const options = workQueueOptions(settings);
  for (const name of [QUEUES.ingest, QUEUES.signals, QUEUES.trackRecord]) {
    const dlq = deadLetterOf(name);
    await boss.createQueue(dlq, { retentionSeconds: 14 * 86_400, deleteAfterSeconds: 14 * 86_400 });
    await boss.createQueue(name, { ...options, policy: 'stately', deadLetter: dlq, notify: true });
    await boss.updateQueue(name, { ...options, deadLetter: dlq, notify: true });
  }
  for (const name of [QUEUES.scheduleIngest, QUEUES.scheduleTrackRecord]) {
    // At most one fan-out waiting: a backlog of cron ticks would only repeat the same work.
    await boss.createQueue(name, { ...options, policy: 'short', notify: true });
    await boss.updateQueue(name, { ...options, notify: true });
  }
}

const sendOptions = (key: WatchKey): SendOptions => ({ singletonKey: singletonKeyOf(key) });

/**
 * Enqueues an ingest for one watcher now (e.g. the server after a watcher
 * became active). Returns the job id, or null when one is already queued.
 */
export async function enqueueIngest(
  boss: PgBoss,
  key: WatchKey,
  options: Pick<SendOptions, 'db' | 'startAfter'> = {},
): Promise<string | null> {
  const data = watchJobSchema.parse(key);
  return boss.send(QUEUES.ingest, data, { ...sendOptions(data), ...options });
}

/** Bulk form for the schedulers: one statement, duplicates collapse the same way. */
/** Bulk send (the schedulers, a batch's follow-ups): one statement per thousand, duplicates collapse the same way. */
export async function enqueueMany(boss: PgBoss, queue: QueueName, jobs: ReadonlyArray<WatchKey & Partial<SignalJob>>): Promise<void> {
  for (let i = 0; i < jobs.length; i += 1000) {
    await boss.insert(
      queue,
      jobs.slice(i, i + 1000).map((j) => ({ data: { ...j }, singletonKey: singletonKeyOf(j) })),
    );
  }
}
