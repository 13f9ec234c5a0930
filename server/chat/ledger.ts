import type { Db, Queryable } from '../../common/db';
import { AppError } from '../../common/errors';

/**
 * The credits ledger, written only as the service role. A charge is two
 * append-only rows keyed by request id — `reserve` before the provider is
 * called, `settle` once the real cost is known — and unique (request_id,
 * reason) makes each step idempotent. Reservations for one user are
 * serialised by a row lock on their profile, so fifty concurrent requests
 * from a user who can pay for five get exactly five reservations, and the
 * balance can never go negative: the settled charge is capped by the reservation.
 */
export interface Reservation {
  requestId: string;
  userId: string;
  reserved: number;
  /** false when this request id was already reserved (a retry): nothing new was written. */
  created: boolean;
  /** true when the request was already settled: it must not run again. */
  settled: boolean;
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
}

export interface Settlement {
  charged: number;
  balance: number;
}

async function balanceOf(q: Queryable, userId: string): Promise<number> {
  const { rows } = await q.query<{ balance: number }>('select coalesce(sum(delta), 0)::bigint as balance from public.credits_ledger where user_id = $1', [userId]);
  return rows[0]?.balance ?? 0;
}

export function createLedger(deps: { chatDb: Db }) {
  return {
    balance: (userId: string) => deps.chatDb.asServiceRole((q) => balanceOf(q, userId)),

    /** Reserves `amount` credits for a request, or refuses with insufficient_credits. */
    async reserve(input: { userId: string; requestId: string; amount: number }): Promise<Reservation> {
      if (!Number.isSafeInteger(input.amount) || input.amount <= 0) throw new Error(`reservation must be a positive integer, got ${input.amount}`);
      return deps.chatDb.asServiceRole(async (q) => {
        const locked = await q.query('select 1 from public.profiles where user_id = $1 for update', [input.userId]);
        if (!locked.rowCount) throw new AppError('not_found', 'No profile for this user');
        // One statement once the lock is held (its snapshot is taken after the lock was granted, so it sees
        // every reservation committed before ours): the request id's rows, the balance, and the reservation
        // itself when it is new and covered. Each round trip here is on every answer's time to first token.
        const { rows } = await q.query<{ existing: Array<{ reason: string; delta: number; user_id: string }>; balance: number; inserted: boolean }>(
          `with existing as (
             select reason, delta, user_id from public.credits_ledger where request_id = $2 and reason in ('reserve', 'settle')
           ), current as (
             select coalesce(sum(delta), 0)::bigint as balance from public.credits_ledger where user_id = $1
           ), inserted as (
             insert into public.credits_ledger (user_id, delta, reason, request_id)
             select $1::uuid, -$3::integer, 'reserve', $2::text from current
             where current.balance >= $3::integer and not exists (select 1 from existing where reason = 'reserve')
             returning 1
           )
           select coalesce((select json_agg(existing) from existing), '[]'::json) as existing,
                  (select balance from current) as balance,
                  exists (select 1 from inserted) as inserted`,
          [input.userId, input.requestId, input.amount],
        );
        const { existing, balance, inserted } = rows[0]!;
        const reserveRow = existing.find((r) => r.reason === 'reserve');
        if (reserveRow) {
          if (reserveRow.user_id !== input.userId) throw new AppError('conflict', 'This request id is already in use');
          return { requestId: input.requestId, userId: input.userId, reserved: -reserveRow.delta, created: false, settled: existing.some((r) => r.reason === 'settle') };
        }
        if (!inserted) {
          throw new AppError('insufficient_credits', `This answer needs up to ${input.amount} credits; your balance is ${balance}`);
        }
        return { requestId: input.requestId, userId: input.userId, reserved: input.amount, created: true, settled: false };
      });
    },

    /** Settles a reservation: refunds what was not used. Idempotent; a second call returns the first result. */
    async settle(input: SettleInput): Promise<Settlement> {
      return deps.chatDb.asServiceRole(async (q) => {
        await q.query('select 1 from public.profiles where user_id = $1 for update', [input.userId]);
        const { rows } = await q.query<{ reason: string; delta: number }>(
          `select reason, delta from public.credits_ledger where request_id = $1 and user_id = $2 and reason in ('reserve', 'settle')`,
          [input.requestId, input.userId],
        );
        const reserve = rows.find((r) => r.reason === 'reserve');
        if (!reserve) throw new Error(`no reservation for request ${input.requestId}`);
        const reserved = -reserve.delta;
        const previous = rows.find((r) => r.reason === 'settle');
        if (previous) return { charged: reserved - previous.delta, balance: await balanceOf(q, input.userId) };
        const charged = Math.min(Math.max(0, Math.ceil(input.cost)), reserved);
        // The new balance in the same round trip: the statement's snapshot predates its own insert, so add the row's delta.
        const settled = await q.query<{ balance: number }>(
          `with inserted as (
             insert into public.credits_ledger
               (user_id, delta, reason, provider, model, input_tokens, output_tokens, voice_characters, estimated, request_id)
             values ($1, $2, 'settle', $3, $4, $5, $6, $7, $8, $9)
             returning delta
           )
           select ((select coalesce(sum(delta), 0) from public.credits_ledger where user_id = $1) + (select delta from inserted))::bigint as balance`,
          [input.userId, reserved - charged, input.provider, input.model, input.inputTokens, input.outputTokens, input.voiceCharacters, input.estimated, input.requestId],
        );
        return { charged, balance: settled.rows[0]!.balance };
      });
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;
