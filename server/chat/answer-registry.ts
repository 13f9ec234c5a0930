import type { ChatAudioEvent, ChatDoneEvent, ChatErrorEvent, ChatTokenEvent } from '../../common/events';
import type { AnswerJournal } from './answer-journal';

/** Where an answer's events go: a socket, an SSE stream, a collecting JSON response. */
export interface ChatSink {
  token(event: ChatTokenEvent): void;
  audio(event: ChatAudioEvent): void;
  error(event: ChatErrorEvent): void;
  done(event: ChatDoneEvent): void;
}

export interface LiveAnswer {
  readonly userId: string;
  readonly id: string;
  readonly abort: AbortController;
  readonly sink: ChatSink;
  /** Sends this answer's events to `sink` too (a reconnected socket), replaying tokens after `fromSeq`. */
  attach(sink: ChatSink, fromSeq: number): 'streaming' | 'finished';
  detach(sink: ChatSink): void;
  /**
   * Ends an answer that failed after it started, when no done can follow (its
   * settlement could not be stored: the sweeper settles it later). Its error
   * has been sent; a resume replays what it delivered and reports it finished.
   */
  abandon(): void;
  readonly finished: boolean;
}

export interface AnswerRegistryOptions {
  /** How long a finished or orphaned answer can still be resumed. */
  resumeWindowMs?: number;
  /** Upper bound of answers kept in memory, oldest finished evicted first. */
  maxAnswers?: number;
  /** Every event is also recorded here, so that another instance can replay and follow the answer. */
  journal?: AnswerJournal;
}

/**
 * Answers in progress and recently finished, per user and request id, so a
 * client that drops and reconnects within the resume window gets what it
 * missed instead of losing the answer (and paying for nothing).
 */
export function createAnswerRegistry(options: AnswerRegistryOptions = {}) {
  const resumeWindowMs = options.resumeWindowMs ?? 120_000;
  const maxAnswers = options.maxAnswers ?? 10_000;
  const answers = new Map<string, LiveAnswer & { finishedAt?: number }>();
  const key = (userId: string, id: string) => `${userId}\u0000${id}`;

  const sweep = setInterval(() => {
    const cutoff = Date.now() - resumeWindowMs;
    for (const [k, a] of answers) if (a.finishedAt !== undefined && a.finishedAt < cutoff) answers.delete(k);
  }, Math.min(resumeWindowMs, 30_000));
  sweep.unref();

  return {
    get: (userId: string, id: string) => answers.get(key(userId, id)),

    /** Registers a new answer; its events fan out to every attached sink and are kept for replay. */
    create(userId: string, id: string, first: ChatSink): LiveAnswer {
      if (answers.size >= maxAnswers) {
        // Insertion order is age: the first finished entry is the oldest one. (A copy of the whole map per new
        // answer, as this was, cost ~10,000 slots an answer on an instance busy enough to be at the cap.)
        for (const [k, a] of answers) {
          if (a.finished) {
            answers.delete(k);
            break;
          }
        }
      }
      const sinks = new Set<ChatSink>([first]);
      const tokens: ChatTokenEvent[] = [];
      const audio: ChatAudioEvent[] = [];
      const errors: ChatErrorEvent[] = [];
      let done: ChatDoneEvent | undefined;
      let abandoned = false;
      const journal = options.journal;
      const fanOut = <E>(store: E[] | null, send: (s: ChatSink, e: E) => void, record?: (e: E) => void) => (event: E) => {
        store?.push(event);
        record?.(event);
        for (const s of sinks) {
          try {
            send(s, event);
          } catch {
            sinks.delete(s);
          }
        }
      };
      const answer: LiveAnswer & { finishedAt?: number } = {
        userId,
        id,
        abort: new AbortController(),
        sink: {
          token: fanOut(tokens, (s, e) => s.token(e), journal && ((e) => journal.token(userId, id, e))),
          audio: fanOut(audio, (s, e) => s.audio(e), journal && ((e) => journal.audio(userId, id, e))),
          error: fanOut(errors, (s, e) => s.error(e), journal && ((e) => journal.error(userId, id, e))),
          done: (event) => {
            done = event;
            answer.finishedAt = Date.now();
            fanOut<ChatDoneEvent>(null, (s, e) => s.done(e), journal && ((e) => journal.done(userId, id, e)))(event);
          },
        },
        attach(sink, fromSeq) {
          for (const t of tokens) if (t.seq > fromSeq) sink.token(t);
          for (const e of errors) sink.error(e);
          for (const a of audio) sink.audio(a);
          if (done) {
            sink.done(done);
            return 'finished';
          }
          if (abandoned) return 'finished';
          sinks.add(sink);
          return 'streaming';
        },
        detach(sink) {
          sinks.delete(sink);
        },
        abandon() {
          if (done || abandoned) return;
          abandoned = true;
          answer.finishedAt = Date.now();
          sinks.clear();
        },
        get finished() {
          return done !== undefined || abandoned;
        },
      };
      answers.set(key(userId, id), answer);
      return answer;
    },

    close() {
      clearInterval(sweep);
      for (const a of answers.values()) if (!a.finished) a.abort.abort();
      answers.clear();
    },
  };
}

export type AnswerRegistry = ReturnType<typeof createAnswerRegistry>;
