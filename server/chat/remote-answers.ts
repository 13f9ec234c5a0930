import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import type { ChatAudioEvent } from '../../common/events';
import type { Logger } from '../../common/logger';
import type { ChatSink } from './answer-registry';
import type { JournalRow } from './answer-journal';
import { instanceAliveSql } from './instance-presence';

export interface RemoteAnswersOptions {
  chatDb: Db;
  log: Logger;
  /** How often a follower reads the journal for the live tail. */
  pollMs?: number;
  /** A heartbeat older than this means the running instance is gone (as the sweeper decides). */
  staleMs: number;
  /** How long after its reservation an answer can be resumed at all (older ones are in the conversation). */
  resumeWindowMs?: number;
  /** An answer neither in flight nor done is lost once it stays so for this long (its `done` may still be on its way). */
  lostGraceMs?: number;
}

export interface Following {
  status: 'streaming' | 'finished';
  /** Stops following (the socket went away). */
  stop(): void;
}

interface Row {
  n: number;
  kind: JournalRow['kind'];
  event: Record<string, unknown>;
  data: Buffer | null;
}

interface State {
  in_flight: boolean;
  alive: boolean;
  stale: boolean;
  reserved: boolean;
  recent: boolean;
}

const LOST_MESSAGE = 'The server that was answering stopped before it finished; what you received is all there is, and you pay only for it. Ask again for a full answer.';

/**
 * `chat:resume` for an answer this instance is not running: the answer's
 * events are replayed from the journal (sql/chat/0012), then its tail is
 * followed until `done`. Tokens keep their seq and rows their order, so the
 * client gets neither a gap nor a duplicate. An answer whose instance died
 * is `answer_lost` — at once when the instance's presence lock is gone.
 */
export function createRemoteAnswers(options: RemoteAnswersOptions) {
  const { chatDb, log } = options;
  const pollMs = options.pollMs ?? 100;
  const resumeWindowMs = options.resumeWindowMs ?? 120_000;
  const lostGraceMs = options.lostGraceMs ?? 3_000;

  const rowsAfter = (userId: string, id: string, n: number) =>
    chatDb.query<Row>(
      `select n, kind, event, data from zmarty_private.answer_events
        where user_id = $1 and request_id = $2 and n > $3 order by n`,
      [userId, id, n],
    );
  const stateOf = async (userId: string, id: string): Promise<State> =>
    (
      await chatDb.query<State>(
        `select f.user_id is not null as in_flight,
                coalesce(${instanceAliveSql('f.instance_id')}, false) as alive,
                coalesce(f.heartbeat_at < now() - make_interval(secs => $3::double precision / 1000), false) as stale,
                r.user_id is not null as reserved,
                coalesce(r.created_at > now() - make_interval(secs => $4::double precision / 1000), false) as recent
           from (select 1) one
           left join zmarty_private.answers_in_flight f on f.user_id = $1 and f.request_id = $2
           left join public.credits_ledger r on r.user_id = $1 and r.request_id = $2 and r.reason = 'reserve'`,
        [userId, id, options.staleMs, resumeWindowMs],
      )
    )[0]!;

  /** Sends rows to the sink (tokens after `fromSeq` only); returns the last row's n and whether `done` was among them. */
  function deliver(id: string, rows: Row[], fromSeq: number, sink: ChatSink, lastN: number): { lastN: number; done: boolean } {
    let done = false;
    for (const row of rows) {
      lastN = row.n;
      if (row.kind === 'tokens') {
        const { from, deltas } = row.event as { from: number; deltas: string[] };
        deltas.forEach((delta, i) => {
          if (from + i > fromSeq) sink.token({ id, delta, seq: from + i });
        });
      } else if (row.kind === 'audio') {
        sink.audio({ ...(row.event as Omit<ChatAudioEvent, 'data'>), data: new Uint8Array(row.data ?? Buffer.alloc(0)) });
      } else if (row.kind === 'error') {
        sink.error(row.event as never);
      } else {
        sink.done(row.event as never);
        done = true;
      }
    }
    return { lastN, done };
  }

  const lost = (id: string, sink: ChatSink) => sink.error({ id, code: 'answer_lost', message: LOST_MESSAGE });

  async function resume(userId: string, id: string, fromSeq: number, sink: ChatSink): Promise<Following> {
    const state = await stateOf(userId, id);
    let { lastN, done } = deliver(id, await rowsAfter(userId, id, -1), fromSeq, sink, -1);
    if (done) return { status: 'finished', stop: () => undefined };
    if (state.in_flight && (!state.alive || state.stale)) throw new AppError('answer_lost', LOST_MESSAGE);
    if (!state.in_flight) {
      if (!state.reserved || !state.recent) throw new AppError('not_found', 'No answer with this id to resume (finished more than 2 minutes ago?)');
      // Settled: its done is on its way (a flush away), or it was settled by the sweeper after its instance died.
      const deadline = Date.now() + lostGraceMs;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, pollMs));
        ({ lastN, done } = deliver(id, await rowsAfter(userId, id, lastN), fromSeq, sink, lastN));
        if (done) return { status: 'finished', stop: () => undefined };
      }
      throw new AppError('answer_lost', LOST_MESSAGE);
    }

    // Streaming on a live instance: follow the tail until done, or until that instance dies.
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let missingSince: number | undefined;
    const tick = async () => {
      const now = Date.now();
      const current = await stateOf(userId, id);
      ({ lastN, done } = deliver(id, await rowsAfter(userId, id, lastN), fromSeq, sink, lastN));
      if (done || stopped) return true;
      if (current.in_flight && current.alive && !current.stale) {
        missingSince = undefined;
        return false;
      }
      if (current.in_flight || now - (missingSince ??= now) > lostGraceMs) {
        lost(id, sink);
        return true;
      }
      return false;
    };
    const loop = () => {
      timer = setTimeout(() => {
        tick().then(
          (finished) => {
            if (!finished && !stopped) loop();
          },
          (err: unknown) => {
            log.warn({ err: (err as Error).message, requestId: id, userId }, 'resume: reading the journal failed; retrying');
            if (!stopped) loop();
          },
        );
      }, pollMs);
    };
    loop();
    return {
      status: 'streaming',
      stop() {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  return { resume };
}

export type RemoteAnswers = ReturnType<typeof createRemoteAnswers>;
