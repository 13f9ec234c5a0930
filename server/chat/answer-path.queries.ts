import type { Db } from '../../common/db';
import type { AccountFacts } from '../context';
import { settlementValues, type SettleInput, type Settlement } from '../credits/ledger';
import type { CachedAnswer } from './answer-cache';

/**
 * The chat answer's database work in two calls (sql/chat/0016–0017): one
 * before the provider is asked (`begin`), one after the answer (`finish`).
 * Each is a single statement on the pool, as the server's own role, with the
 * user id the server verified: every round trip here is on the answer's time
 * to first token or holds a pooled connection while the next answer waits.
 */
export interface BeginInput {
  userId: string;
  requestId: string;
  instanceId: string;
  /** The per-minute limit's key to consume, or null when an earlier call of this answer consumed it. */
  limitKey: string | null;
  perMinute: number;
  windowMs: number;
  nowMs: number;
  conversationId?: string;
  historyMessages: number;
  /** The watchlist the prompt was built from (its hash); null = read the facts only. */
  watchHash: string | null;
  amount: number;
  minAmount: number;
  preview: string;
  message: string;
  title: string;
  cacheKey?: string;
}

export interface AnswerFacts {
  symbols: Array<{ symbol: string; timeframe: string }>;
  watchHash: string;
  account: AccountFacts;
  /** The conversation's newest messages, oldest first (absent for a new conversation). */
  history?: Array<{ requestId: string | null; role: 'user' | 'assistant' | null; content: string | null }>;
}

export interface ReservationRow {
  has_profile: boolean;
  reasons: string[];
  balance: number;
  open: number;
  max_open: number;
}

export type BeginOutcome =
  | { outcome: 'rate_limited'; retryMs: number }
  | { outcome: 'not_found' }
  | { outcome: 'facts'; facts: AnswerFacts }
  | { outcome: 'refused'; reservation: ReservationRow; cached?: CachedAnswer }
  | { outcome: 'reserved'; reserved: number; balance: number; conversationId: string; cached?: CachedAnswer };

interface BeginRow {
  outcome: 'rate_limited' | 'not_found' | 'facts' | 'refused' | 'reserved' | 'no_profile';
  retry_ms: number | null;
  watch: AnswerFacts['symbols'] | null;
  watch_hash: string | null;
  account: AccountFacts | null;
  history: AnswerFacts['history'] | null;
  reasons: string[] | null;
  balance: number | null;
  open: number | null;
  max_open: number | null;
  reserved: number | null;
  conversation_id: string | null;
  cached: CachedAnswer | null;
}

const FACTS_SQL = 'select watch, watch_hash, account from zmarty_private.answer_facts($1, null, 0)';
const BEGIN_SQL = 'select * from zmarty_private.begin_answer($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)';
const FINISH_SQL =
  'select charged, balance, answer_failure, cache_failure from zmarty_private.finish_answer($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)';

export interface FinishInput extends SettleInput {
  /** The answer as delivered, stored beside its question. */
  text: string;
  status: string;
  /** Kept in the answer cache under this key (absent: not kept). */
  cache?: { key: string; text: string; ttlMs: number };
}

export interface Finished extends Settlement {
  /** Why the answer or the cache entry could not be written (the settlement stands). */
  answerFailure: string | null;
  cacheFailure: string | null;
}

export function createAnswerPath(deps: { chatDb: Db }) {
  return {
    /**
     * The user's watchlist and account facts (sql/chat/0018 answer_facts), as
     * the server's own role for the user id it verified: the same read
     * begin_answer returns when the watchlist it is named is not the stored one.
     */
    async facts(userId: string): Promise<Pick<AnswerFacts, 'symbols' | 'watchHash' | 'account'>> {
      const [row] = await deps.chatDb.query<{ watch: AnswerFacts['symbols']; watch_hash: string; account: AccountFacts }>(FACTS_SQL, [userId]);
      return { symbols: row!.watch, watchHash: row!.watch_hash, account: row!.account };
    },

    async begin(input: BeginInput): Promise<BeginOutcome> {
      const [row] = await deps.chatDb.query<BeginRow>(BEGIN_SQL, [
        input.userId,
        input.requestId,
        input.instanceId,
        input.limitKey,
        input.perMinute,
        input.windowMs,
        input.nowMs,
        input.conversationId ?? null,
        input.historyMessages,
        input.watchHash,
        input.amount,
        input.minAmount,
        input.preview,
        input.message,
        input.title,
        input.cacheKey ?? null,
      ]);
      const r = row!;
      const cached = r.cached ?? undefined;
      switch (r.outcome) {
        case 'rate_limited':
          return { outcome: 'rate_limited', retryMs: r.retry_ms ?? 0 };
        case 'not_found':
          return { outcome: 'not_found' };
        case 'facts':
          return { outcome: 'facts', facts: { symbols: r.watch!, watchHash: r.watch_hash!, account: r.account!, history: r.history ?? undefined } };
        case 'no_profile':
          return { outcome: 'refused', reservation: { has_profile: false, reasons: [], balance: 0, open: 0, max_open: 0 }, cached };
        case 'refused':
          return { outcome: 'refused', reservation: { has_profile: true, reasons: r.reasons!, balance: r.balance!, open: r.open!, max_open: r.max_open! }, cached };
        case 'reserved':
          return { outcome: 'reserved', reserved: r.reserved!, balance: r.balance!, conversationId: r.conversation_id!, cached };
      }
    },

    async finish(input: FinishInput): Promise<Finished> {
      const [row] = await deps.chatDb.query<{ charged: number; balance: number; answer_failure: string | null; cache_failure: string | null }>(FINISH_SQL, [
        ...settlementValues(input),
        input.text,
        input.status,
        input.cache?.key ?? null,
        input.cache?.text ?? null,
        input.cache?.ttlMs ?? null,
      ]);
      return { charged: row!.charged, balance: row!.balance, answerFailure: row!.answer_failure, cacheFailure: row!.cache_failure };
    },
  };
}

export type AnswerPath = ReturnType<typeof createAnswerPath>;
