import { createHash } from 'node:crypto';
import type { Db } from '../../common/db';
import type { Logger } from '../../common/logger';
import { classifyIntent } from '../router/local-analyst.intents';

/** What is kept of an answer to serve it again. */
export interface CachedAnswer {
  text: string;
  /** The provider and model that wrote it. */
  provider: string;
  model: string;
  outputTokens: number;
}

/**
 * The question as the cache compares it: Unicode-normalised (NFKC), lower
 * case, runs of white space as one space, without the closing punctuation —
 * "What is the BTC signal?" and "what is the  BTC signal" are one question.
 */
export function normaliseQuestion(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\s?!.…]+$/u, '');
}

/** The cache key: the normalised question and the fingerprint of the market context it is answered from. */
export function answerCacheKey(question: string, contextFingerprint: string): string {
  return createHash('sha256').update(normaliseQuestion(question)).update('\u0000').update(contextFingerprint).digest('hex');
}

/**
 * Whether a question may be answered from (and stored in) the cache: the
 * first question of a conversation (a follow-up depends on the turns before
 * it), not about the user's own credits (the only private fact in the
 * prompt: cacheable questions are asked without it, so an answer can be
 * shared by every user who asks the same thing about the same market).
 */
export function isCacheableQuestion(input: { message: string; conversationId?: string }): boolean {
  return input.conversationId === undefined && classifyIntent(input.message) !== 'balance';
}

export interface AnswerCacheOptions {
  chatDb: Db;
  log: Logger;
  /** How long an answer is served at most, even on unchanged data (its wording ages: "the signal from 2 hours ago"). */
  ttlMs: number;
  onCacheLookup?: (cache: string, hit: boolean) => void;
}

/**
 * Answers shared by every instance, in zmarty_private.answer_cache
 * (sql/chat/0013): one primary-key read per cacheable question, one insert
 * per complete answer. The chat service does both inside the answer's own
 * calls (begin_answer and finish_answer, sql/chat/0017: no round trip of
 * their own); this is their configuration, their metric and the sweep.
 * The key changes with the context, so a new candle makes earlier entries
 * unreachable; they are deleted once expired.
 */
export function createAnswerCache(options: AnswerCacheOptions) {
  const { chatDb, log, ttlMs } = options;
  // The first sweep a minute after start, like every later one: it is housekeeping, never on an answer's path.
  let lastSweep = Date.now();

  return {
    /**
     * Counts a lookup made inside begin_answer (`zmarty_cache_lookups_total`
     * {cache="answer"}): the database does the read, the hit or miss is
     * counted here, where it was counted when the lookup was a call of its own.
     */
    recordLookup(hit: boolean): void {
      options.onCacheLookup?.('answer', hit);
    },

    /** How long an entry is served (the chat service stores entries with its settlement, see answer-path.queries.ts). */
    ttlMs,

    /** Deletes expired entries, at most once a minute per instance; call after storing. */
    sweep,
  };

  // Expired rows go in passing, at most once a minute per instance (several instances doing it at once is harmless).
  async function sweep(): Promise<void> {
    if (Date.now() - lastSweep <= 60_000) return;
    lastSweep = Date.now();
    await chatDb
      .query('delete from zmarty_private.answer_cache where expires_at < now()')
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'answer cache: deleting expired entries failed'));
  }
}

export type AnswerCache = ReturnType<typeof createAnswerCache>;
