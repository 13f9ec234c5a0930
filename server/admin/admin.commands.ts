import { randomUUID } from 'node:crypto';
import type { Db, Queryable } from '../../common/db';
import type { Tier } from '../tiers/tiers';
import { listTiersSql } from '../tiers/tiers.queries';

/**
 * The operator's commands (`npm run admin`), on the chat database as its owner
 * connection. Every change is one transaction under the user's profile lock
 * (the lock the ledger's reservations take), and is written as a ledger row
 * with the operator's note: credits as `grant` / `adjustment`, a tier change
 * as `tier` (delta 0).
 */

/** A refusal to show the operator (exit code 1); anything else is a bug or the database. */
export class AdminError extends Error {
  override name = 'AdminError';
}

export interface LedgerEntry {
  id: number;
  delta: number;
  reason: string;
  note: string | null;
  requestId: string;
  createdAt: string;
}

export interface Account {
  userId: string;
  email: string;
  tier: Tier;
  /** Credits available (every ledger row summed; open reservations are already taken off). */
  balance: number;
  /** Credits held by answers in progress. */
  held: number;
  answersInProgress: number;
  recent: LedgerEntry[];
}

const MAX_DELTA = 2_147_483_647;
export const MAX_NOTE_CHARS = 150;

/** An exact, non-zero whole number of credits that fits the ledger's integer column; else an error saying why. */
export function parseCredits(text: string): number {
  if (!/^[+-]?\d+$/.test(text.trim())) throw new AdminError(`CREDITS must be a whole number of credits (got "${text}")`);
  const value = Number(text.trim());
  if (value === 0) throw new AdminError('CREDITS must not be 0');
  if (Math.abs(value) > MAX_DELTA) throw new AdminError(`CREDITS must be between -${MAX_DELTA} and ${MAX_DELTA} (got ${text})`);
  return value;
}

async function findUser(q: Queryable, email: string): Promise<{ userId: string; email: string }> {
  const { rows } = await q.query<{ userId: string; email: string }>(
    `select u.id as "userId", u.email from auth.users u where lower(u.email) = lower($1)`,
    [email.trim()],
  );
  if (!rows[0]) throw new AdminError(`no user with email ${email}`);
  return rows[0];
}

/** Locks the profile (as reservations do) and returns its tier name. */
async function lockProfile(q: Queryable, userId: string, email: string): Promise<string> {
  const { rows } = await q.query<{ tier: string }>('select tier from public.profiles where user_id = $1 for update', [userId]);
  if (!rows[0]) throw new AdminError(`user ${email} has no profile`);
  return rows[0].tier;
}

const balanceSql = 'select coalesce(sum(delta), 0)::bigint as balance from public.credits_ledger where user_id = $1';

function checkNote(note: string | undefined): string | undefined {
  const trimmed = note?.trim();
  if (trimmed === undefined || trimmed === '') return undefined;
  if (Array.from(trimmed).length > MAX_NOTE_CHARS) throw new AdminError(`--note is longer than ${MAX_NOTE_CHARS} characters`);
  return trimmed;
}

export function createAdminCommands({ chatDb }: { chatDb: Db }) {
  return {
    /**
     * Adds (or, negative, takes back) credits. `id` makes it idempotent: the
     * same id again changes nothing and reports the first result; the same id
     * with another amount is refused. Without `id` every call is a new grant.
     * Taking back more than the balance is refused (the balance never goes
     * below 0).
     */
    async grant(input: { email: string; credits: number; note?: string; id?: string }) {
      const note = checkNote(input.note);
      const requestId = `admin-grant:${input.id ?? randomUUID()}`;
      if (requestId.length > 200) throw new AdminError('--id is longer than 180 characters');
      return chatDb.tx(async (q) => {
        const user = await findUser(q, input.email);
        await lockProfile(q, user.userId, user.email);
        // Under the profile lock: a concurrent replay of the same id waits here and then sees our row.
        // Only an operator's rows count: request ids are otherwise the user's own, and a question may be
        // sent with one that reads "admin-grant:…" (its reserve and settle rows must not pass for a grant).
        const { rows: previous } = await q.query<{ delta: number }>(
          `select delta from public.credits_ledger where user_id = $1 and request_id = $2 and reason in ('grant', 'adjustment')`,
          [user.userId, requestId],
        );
        const balanceBefore = Number((await q.query<{ balance: number }>(balanceSql, [user.userId])).rows[0]!.balance);
        if (previous[0]) {
          if (previous[0].delta !== input.credits) {
            throw new AdminError(`--id ${input.id} was already used for ${previous[0].delta} credits, not ${input.credits}; use another id`);
          }
          return { ...user, credits: input.credits, balance: balanceBefore, applied: false as const, requestId };
        }
        if (balanceBefore + input.credits < 0) {
          throw new AdminError(`cannot take back ${-input.credits} credits: the balance of ${user.email} is ${balanceBefore}`);
        }
        await q.query(
          `insert into public.credits_ledger (user_id, delta, reason, request_id, note) values ($1, $2, $3, $4, $5)`,
          [user.userId, input.credits, input.credits > 0 ? 'grant' : 'adjustment', requestId, note ?? (input.credits > 0 ? 'granted by an operator' : 'taken back by an operator')],
        );
        return { ...user, credits: input.credits, balance: balanceBefore + input.credits, applied: true as const, requestId };
      });
    },

    /**
     * Moves a user to a tier; the new limits apply to their next answer on
     * every instance (each hears the change from the database, sql/chat/0020).
     * Setting the tier they are on
     * changes nothing and writes nothing. Credits are not touched (see `grant`).
     */
    async setTier(input: { email: string; tier: string; note?: string }) {
      const note = checkNote(input.note);
      return chatDb.tx(async (q) => {
        const user = await findUser(q, input.email);
        const { rows: tiers } = await q.query<{ tier: string }>('select tier from public.tier_grants order by tier');
        if (!tiers.some((t) => t.tier === input.tier)) {
          throw new AdminError(`unknown tier "${input.tier}" (tiers: ${tiers.map((t) => t.tier).join(', ')})`);
        }
        const from = await lockProfile(q, user.userId, user.email);
        if (from === input.tier) return { ...user, from, to: input.tier, changed: false as const };
        await q.query('update public.profiles set tier = $2, updated_at = now() where user_id = $1', [user.userId, input.tier]);
        await q.query(
          `insert into public.credits_ledger (user_id, delta, reason, request_id, note) values ($1, 0, 'tier', $2, $3)`,
          [user.userId, `admin-tier:${randomUUID()}`, `tier ${from} → ${input.tier}${note ? `: ${note}` : ''}`],
        );
        return { ...user, from, to: input.tier, changed: true as const };
      });
    },

    /** A user's tier, balance, credits held by answers in progress, and last ledger rows. */
    async account(email: string, recent = 10): Promise<Account> {
      return chatDb.tx(async (q) => {
        const user = await findUser(q, email);
        const { rows } = await q.query<Omit<Account, 'userId' | 'email'>>(
          `select json_build_object('tier', t.tier, 'startingCredits', t.starting_credits, 'chatPerMinute', t.chat_per_minute,
                    'maxConcurrent', t.max_concurrent, 'maxOutputTokens', t.max_output_tokens, 'voiceAllowed', t.voice_allowed) as tier,
                  (select coalesce(sum(delta), 0) from public.credits_ledger where user_id = $1)::bigint as balance,
                  (select coalesce(sum(reserved), 0) from zmarty_private.answers_in_flight where user_id = $1)::bigint as held,
                  (select count(*) from zmarty_private.answers_in_flight where user_id = $1)::integer as "answersInProgress",
                  coalesce((select json_agg(r) from (
                    select id, delta, reason, note, request_id as "requestId", created_at as "createdAt"
                      from public.credits_ledger where user_id = $1 order by id desc limit $2) r), '[]') as recent
             from public.profiles p join public.tier_grants t on t.tier = p.tier where p.user_id = $1`,
          [user.userId, recent],
        );
        if (!rows[0]) throw new AdminError(`user ${user.email} has no profile`);
        return { ...user, ...rows[0] };
      });
    },

    /** Every tier, its limits and its number of users. */
    tiers: () => chatDb.query<Tier & { users: number }>(listTiersSql),
  };
}

export type AdminCommands = ReturnType<typeof createAdminCommands>;
