import type { Queryable } from '../../common/db';
import type { AccountFacts } from '../context';

/** Answers listed in "recent spend". */
const RECENT_ANSWERS = 5;

/** What the chat's context needs of the user, from the chat database. */
export interface UserFacts {
  /** The watchlist, oldest first. */
  symbols: Array<{ symbol: string; timeframe: string }>;
  account: AccountFacts;
}

/**
 * The user's watchlist, balance and what their recent answers cost, for the
 * chat's context, in one statement (it is on every answer's path: one round
 * trip, not one per fact). Runs inside `chatDb.asUser`: RLS limits every row
 * to the caller. Bounded: the ledger is indexed by (user_id, id) and only the
 * last day and the last few settled answers are read. An answer counts once
 * settled (reserve + extend + settle = its charge); one still running is not spend yet.
 */
export async function loadUserFacts(q: Queryable): Promise<UserFacts> {
  const { rows } = await q.query<{
    symbols: UserFacts['symbols'];
    balance: number;
    spent24h: number;
    answers24h: number;
    recent: AccountFacts['recent'] | null;
  }>(
    `with answers as (
       select request_id, max(id) as last_id, min(created_at) as started, (-sum(delta))::int as credits,
              max(provider) as provider, coalesce(max(voice_characters), 0) > 0 as voice
       from public.credits_ledger
       where reason in ('reserve', 'extend', 'settle') and created_at > now() - interval '24 hours'
       group by request_id having bool_or(reason = 'settle'))
     select (select coalesce(json_agg(json_build_object('symbol', symbol, 'timeframe', timeframe) order by created_at, id), '[]')
               from public.user_symbols) as symbols,
            (select coalesce(sum(delta), 0)::int from public.credits_ledger) as balance,
            (select coalesce(sum(credits), 0)::int from answers) as "spent24h",
            (select count(*)::int from answers) as "answers24h",
            (select json_agg(r) from (select to_char(started at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as at, credits, provider, voice
                                      from answers order by last_id desc limit ${RECENT_ANSWERS}) r) as recent`,
  );
  const row = rows[0]!;
  return { symbols: row.symbols, account: { balance: row.balance, spent24h: row.spent24h, answers24h: row.answers24h, recent: row.recent ?? [] } };
}
