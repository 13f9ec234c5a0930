import type { Db, Queryable } from '../../common/db';
import { AppError } from '../../common/errors';

/**
 * The credits ledger, written only as the service role. A charge is two
 * append-only rows keyed by (user, request id) — `reserve` before the provider
 * is called, `settle` once the real cost is known — and the unique key makes
 * each step idempotent. Every decision about a reservation (is this id new,
 * does the balance cover it, how many answers does the user have open) is
 * taken in one statement under a row lock on the user's profile, so it holds
 * across concurrent requests and across server instances: fifty concurrent
 * requests from a user who can pay for five get exactly five reservations,
 * the same id never gets two, and the balance can never go negative (the
 * settled charge is capped by the reservation).
 *
 * An open reservation has a row in zmarty_private.answers_in_flight (written
 * with it, deleted with its settlement): see reservation-sweeper.ts.
 */
export interface ReserveInput {
  userId: string;
  requestId: string;
  /** Credits the whole answer may cost (its full output budget). */
  amount: number;
  /**
   * The least that is worth reserving (a minimal answer): with a balance
   * between this and `amount` the whole balance is reserved and the answer is
   * capped to fit it. Default `amount` (all or nothing).
   */
  minAmount?: number;
  /** A short preview of the question, kept on the reservation for the spend list. */
  question?: string;
  /** The process that will run the answer (its heartbeat keeps the reservation alive). */
  instanceId: string;
  /**
   * Open reservations (answers in progress) the user may have, this one
   * included. Default: their tier's `max_concurrent`, read in the reserve
   * statement itself, so a tier change applies to the very next answer on
   * every instance.
   */
  maxOpen?: number;
}

export interface Reservation {
  requestId: string;
  userId: string;
  reserved: number;
}

export interface ExtendInput {
  userId: string;
  requestId: string;
  /** Credits to add to the open reservation. */
  amount: number;
  /** The least addition worth having; below it nothing is added. Default `amount`. */
  minAmount?: number;
}

export interface Extension {
  /** Credits added (0 when the balance did not cover `minAmount`). */
  added: number;
  /** The reservation now held for the request, extensions included. */
  reserved: number;
  balance: number;
}

export interface SettleInput {
  requestId: string;
  userId: string;
  /** The cost by the price table; charged up to the reservation. */
  cost: number;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  voiceCharacters: number;
  estimated: boolean;
  /** What the text alone cost: the rest of the charge is recorded as voice. Absent = all text. */
  textCost?: number;
}

export interface Settlement {
  charged: number;
  balance: number;
}

async function balanceOf(q: Queryable, userId: string): Promise<number> {
  // The maintained balance (sql/chat/0016): equal to the sum of the user's ledger, without reading it all.
  const { rows } = await q.query<{ balance: number }>('select coalesce((select balance from zmarty_private.credit_balances where user_id = $1), 0)::bigint as balance', [userId]);
  return rows[0]?.balance ?? 0;
}

/** What reserve_answer's row says when it reserved nothing: the refusal, as the ledger's callers see it. */
export function reservationRefusal(
  row: { has_profile: boolean; reasons: string[]; balance: number; open: number; max_open: number },
  minAmount: number,
): AppError {
  if (!row.has_profile) return new AppError('not_found', 'No profile for this user');
  if (row.reasons.includes('settle')) return new AppError('conflict', 'This request was already answered');
  if (row.reasons.includes('reserve')) return new AppError('conflict', 'This request is already being answered; resume it instead');
  if (row.open >= row.max_open) return new AppError('rate_limited', `At most ${row.max_open} answers at a time; wait for one to finish`);
  return new AppError('insufficient_credits', `Even a short answer needs ${minAmount} credits; your balance is ${row.balance}`);
}

/** A settlement's values as settle_answer takes them: whole credits, rounded up, never negative. */
export function settlementValues(input: SettleInput): unknown[] {
  const cost = Math.max(0, Math.ceil(input.cost));
  const textCost = input.textCost === undefined ? null : Math.max(0, Math.ceil(input.textCost));
  return [input.userId, input.requestId, cost, textCost, input.provider, input.model, input.inputTokens, input.outputTokens, input.voiceCharacters, input.estimated];
}

const lockProfile = (q: Queryable, userId: string) => q.query('select 1 from public.profiles where user_id = $1 for update', [userId]);

export function createLedger(deps: { chatDb: Db }) {
  return {
    balance: (userId: string) => balanceOf(deps.chatDb.pool, userId),

    /**
     * Reserves `amount` credits for a new request. Refuses with `conflict` when
     * the user already used this id (answered, or still being answered: resume
     * it instead), `rate_limited` when the user has `maxOpen` (default: their tier's) answers open, and
     * `insufficient_credits` when the balance does not cover it.
     */
    async reserve(input: ReserveInput): Promise<Reservation> {
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw new Error(`reservation must be a positive integer, got ${input.amount}`);
      const minAmount = input.minAmount ?? input.amount;
      if (!Number.isSafeInteger(minAmount) || minAmount <= 0 || minAmount > input.amount) throw new Error(`minAmount must be in 1..amount, got ${minAmount}`);
      // One round trip: the profile lock and the reservation statement in one call (sql/chat/0015), in the
      // call's own transaction. Each round trip here is on every answer's time to first token.
      const rows = await deps.chatDb.query<{ has_profile: boolean; reasons: string[]; balance: number; open: number; max_open: number; reserved: number | null }>(
        'select * from zmarty_private.reserve_answer($1, $2, $3, $4, $5, $6, $7)',
        [input.userId, input.requestId, input.amount, input.instanceId, input.maxOpen ?? null, minAmount, input.question ?? null],
      );
      const row = rows[0]!;
      if (row.reserved !== null) return { requestId: input.requestId, userId: input.userId, reserved: row.reserved };
      throw reservationRefusal(row, minAmount);
    },

    /**
     * Adds to an open reservation before a fallback to a pricier provider runs,
     * under the same profile lock as `reserve`: `amount` when the balance covers
     * it, else the whole balance when that is at least `minAmount`, else
     * nothing (`added: 0`; the caller then caps the answer or gives up).
     * At most one extension per request: a second call adds nothing.
     * Refuses with `conflict` when the request has no open reservation.
     */
    async extend(input: ExtendInput): Promise<Extension> {
      const minAmount = input.minAmount ?? input.amount;
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw new Error(`extension must be a positive integer, got ${input.amount}`);
      if (!Number.isSafeInteger(minAmount) || minAmount <= 0 || minAmount > input.amount) throw new Error(`minAmount must be in 1..amount, got ${minAmount}`);
      return deps.chatDb.asServiceRole(async (q) => {
        await lockProfile(q, input.userId);
        const { rows } = await q.query<{ open: boolean; balance: number; reserved: number | null; added: number | null }>(
          `with flight as (
             select reserved from zmarty_private.answers_in_flight where user_id = $1 and request_id = $2
           ), current as (
             select coalesce((select balance from zmarty_private.credit_balances where user_id = $1), 0)::bigint as balance
           ), inserted as (
             insert into public.credits_ledger (user_id, delta, reason, request_id)
             select $1::uuid, -least(current.balance, $3::integer), 'extend', $2::text from current, flight
             where current.balance >= $4::integer
             -- One extension per answer (the ledger's unique key): a second one adds nothing.
             on conflict (user_id, request_id, reason) do nothing
             returning -delta as added
           ), tracked as (
             update zmarty_private.answers_in_flight f set reserved = f.reserved + i.added
               from inserted i where f.user_id = $1 and f.request_id = $2
             returning f.reserved
           )
           select exists (select 1 from flight) as open, (select balance from current) as balance,
                  coalesce((select reserved from tracked), (select reserved from flight)) as reserved,
                  (select added from inserted) as added`,
          [input.userId, input.requestId, input.amount, minAmount],
        );
        const row = rows[0]!;
        if (!row.open) throw new AppError('conflict', 'This request has no open reservation');
        const added = row.added ?? 0;
        return { added, reserved: row.reserved!, balance: Number(row.balance) - added };
      });
    },

    /**
     * Settles a reservation: refunds what was not used and closes it, in one
     * call (sql/chat/0016 settle_answer). Idempotent; a second call returns the first result.
     */
    settle: (input: SettleInput): Promise<Settlement> => settleOn(deps.chatDb.pool, input),

    /** `settle` inside a transaction of the caller's (the sweeper settles many in one, on one connection). */
    settleOn,
  };

  async function settleOn(q: Queryable, input: SettleInput): Promise<Settlement> {
    const { rows } = await q.query<{ charged: number; balance: number }>(SETTLE_SQL, settlementValues(input));
    return { charged: rows[0]!.charged, balance: rows[0]!.balance };
  }
}

const SETTLE_SQL = 'select charged, balance from zmarty_private.settle_answer($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)';

export type Ledger = ReturnType<typeof createLedger>;
