import type { Db } from '../../common/db';
import type { ChatAudioEvent, ChatDoneEvent, ChatErrorEvent, ChatTokenEvent } from '../../common/events';
import type { Logger } from '../../common/logger';

/** One row of `zmarty_private.answer_events` (see sql/chat/0012_answer_events.sql). */
export type JournalRow =
  | { kind: 'tokens'; event: { from: number; deltas: string[] }; data?: undefined }
  | { kind: 'audio'; event: Omit<ChatAudioEvent, 'data'>; data: Uint8Array }
  | { kind: 'error'; event: ChatErrorEvent; data?: undefined }
  | { kind: 'done'; event: ChatDoneEvent; data?: undefined };

/** What the answer registry records of each answer's events; every call is in memory only. */
export interface AnswerJournal {
  token(userId: string, id: string, event: ChatTokenEvent): void;
  audio(userId: string, id: string, event: ChatAudioEvent): void;
  error(userId: string, id: string, event: ChatErrorEvent): void;
  done(userId: string, id: string, event: ChatDoneEvent): void;
}

export interface AnswerJournalOptions {
  chatDb: Db;
  log: Logger;
  /** How often buffered events are written, in one statement for every answer of this instance. */
  flushMs?: number;
  /** How long after its `done` an answer can still be resumed (its rows are then deleted). */
  resumeWindowMs?: number;
  /** Rows older than this go whatever they are (answers whose instance died never get `done`). */
  maxAgeMs?: number;
  cleanupMs?: number;
  /** Rows kept in memory at most while the database does not take them (a longer outage drops the oldest). */
  maxBufferedRows?: number;
}

interface Pending {
  userId: string;
  requestId: string;
  nextN: number;
  /** Consecutive token deltas not yet closed into a row. */
  tokens?: { from: number; deltas: string[] };
  finished: boolean;
}

interface Buffered {
  userId: string;
  requestId: string;
  n: number;
  row: JournalRow;
}

/**
 * The out-of-process log of every answer this instance runs, so that any
 * instance can replay an answer and follow its tail (server/chat/remote-answers.ts).
 * Hot-path cost is an array push: events are buffered and written every
 * `flushMs` for all answers at once (one INSERT … SELECT FROM unnest), and
 * consecutive tokens of one answer share one row. Nothing is written before
 * the first token is sent, and a failed write is retried at the next flush.
 */
export function createAnswerJournal(options: AnswerJournalOptions) {
  const { chatDb, log } = options;
  const flushMs = options.flushMs ?? 100;
  const resumeWindowMs = options.resumeWindowMs ?? 120_000;
  const maxAgeMs = options.maxAgeMs ?? 3_600_000;
  const cleanupMs = options.cleanupMs ?? 30_000;
  const maxBufferedRows = options.maxBufferedRows ?? 200_000;
  const answers = new Map<string, Pending>();
  let buffer: Buffered[] = [];
  let writing: Promise<void> | undefined;
  let timers: NodeJS.Timeout[] = [];
  const stats = { flushes: 0, rows: 0, failures: 0, dropped: 0, ms: 0, maxMs: 0 };
  const key = (userId: string, id: string) => `${userId}\u0000${id}`;

  function pendingOf(userId: string, requestId: string): Pending {
    const k = key(userId, requestId);
    let p = answers.get(k);
    if (!p) answers.set(k, (p = { userId, requestId, nextN: 0, finished: false }));
    return p;
  }
  function closeTokens(p: Pending) {
    if (!p.tokens) return;
    buffer.push({ userId: p.userId, requestId: p.requestId, n: p.nextN++, row: { kind: 'tokens', event: p.tokens } });
    p.tokens = undefined;
  }
  function push(userId: string, requestId: string, row: Exclude<JournalRow, { kind: 'tokens' }>) {
    const p = pendingOf(userId, requestId);
    closeTokens(p);
    buffer.push({ userId, requestId, n: p.nextN++, row });
    if (row.kind === 'done') p.finished = true;
  }

  const journal: AnswerJournal = {
    token(userId, id, event) {
      const p = pendingOf(userId, id);
      if (p.tokens && p.tokens.from + p.tokens.deltas.length === event.seq) p.tokens.deltas.push(event.delta);
      else {
        closeTokens(p);
        p.tokens = { from: event.seq, deltas: [event.delta] };
      }
    },
    audio(userId, id, event) {
      const { data, ...rest } = event;
      push(userId, id, { kind: 'audio', event: rest, data });
    },
    error: (userId, id, event) => push(userId, id, { kind: 'error', event }),
    done: (userId, id, event) => push(userId, id, { kind: 'done', event }),
  };

  async function write(rows: Buffered[]) {
    const started = performance.now();
    // One JSON document for the batch: node-postgres would write a jsonb[] parameter as an array literal,
    // escaping every quote of every event's JSON again (a tenth of what the server allocated per token relayed).
    await chatDb.query(
      `insert into zmarty_private.answer_events (user_id, request_id, n, kind, event, data)
       select r.user_id, r.request_id, r.n, r.kind, r.event, decode(r.data, 'base64')
       from json_to_recordset($1::json) as r(user_id uuid, request_id text, n integer, kind text, event jsonb, data text)
       on conflict do nothing`,
      [
        JSON.stringify(
          rows.map((r) => ({
            user_id: r.userId,
            request_id: r.requestId,
            n: r.n,
            kind: r.row.kind,
            event: r.row.event,
            data: r.row.data ? Buffer.from(r.row.data.buffer, r.row.data.byteOffset, r.row.data.byteLength).toString('base64') : null,
          })),
        ),
      ],
    );
    const ms = performance.now() - started;
    stats.flushes++;
    stats.rows += rows.length;
    stats.ms += ms;
    stats.maxMs = Math.max(stats.maxMs, ms);
  }

  /** Writes everything buffered so far (tokens still coalescing included); one write at a time. */
  function flush(): Promise<void> {
    if (writing) return writing;
    const run = (async () => {
      // Yield first: the `finally` below must run after `writing` is assigned, even when there is nothing to write.
      await Promise.resolve();
      try {
        for (const [k, p] of answers) {
          closeTokens(p);
          if (p.finished) answers.delete(k);
        }
        if (buffer.length === 0) return;
        const rows = buffer;
        buffer = [];
        try {
          await write(rows);
        } catch (err) {
          stats.failures++;
          // Kept for the next flush, in order; beyond the cap the oldest go (a resume then finds a gap-free prefix missing: answer_lost).
          buffer = rows.concat(buffer);
          if (buffer.length > maxBufferedRows) {
            stats.dropped += buffer.length - maxBufferedRows;
            buffer = buffer.slice(buffer.length - maxBufferedRows);
          }
          log.warn({ err: (err as Error).message, rows: rows.length }, 'answer journal: write failed; retrying at the next flush');
        }
      } finally {
        writing = undefined;
      }
    })();
    writing = run;
    return run;
  }

  /** Deletes answers finished longer than the resume window ago, and anything past the maximum age. */
  async function cleanup(): Promise<number> {
    const rows = await chatDb.query<{ n: number }>(
      `with finished as (
         select user_id, request_id from zmarty_private.answer_events
          where kind = 'done' and created_at < now() - make_interval(secs => $1::double precision / 1000)
       ), gone as (
         delete from zmarty_private.answer_events e
          where (e.user_id, e.request_id) in (select user_id, request_id from finished)
             or e.created_at < now() - make_interval(secs => $2::double precision / 1000)
          returning 1
       )
       select count(*)::integer as n from gone`,
      [resumeWindowMs, maxAgeMs],
    );
    return rows[0]!.n;
  }

  return {
    ...journal,
    flush,
    cleanup,
    /** Flush statements, rows written and their time (the figures a benchmark reports). */
    stats: () => ({ ...stats, buffered: buffer.length }),
    start() {
      timers = [
        setInterval(() => void flush(), flushMs),
        setInterval(() => {
          // One line per cleanup: what the journal cost this instance so far (operators and the soak read it).
          if (stats.flushes > 0) log.info({ journal: { ...stats, ms: Math.round(stats.ms), maxMs: Math.round(stats.maxMs), buffered: buffer.length } }, 'answer journal: written');
          void cleanup().catch((err) => log.warn({ err: (err as Error).message }, 'answer journal: cleanup failed'));
        }, cleanupMs),
      ];
      for (const t of timers) t.unref();
    },
    /** Stops the timers after writing what is buffered (the shutdown's answers end with their `done`). */
    async stop() {
      for (const t of timers) clearInterval(t);
      timers = [];
      await flush();
      if (buffer.length > 0) await flush();
    },
  };
}

export type AnswerJournalWriter = ReturnType<typeof createAnswerJournal>;
