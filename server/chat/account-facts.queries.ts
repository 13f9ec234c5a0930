import type { Queryable } from '../../common/db';
import type { AccountFacts } from '../context';

/** Answers listed in "recent spend". */
const RECENT_ANSWERS = 5;

/**
 * The user's balance and what their recent answers cost, for the chat's
 * context. Runs inside `chatDb.asUser`: RLS limits every row to the caller.
 * One statement, bounded: the ledger is indexed by (user_id, id) and only the
 * last day and the last few settled answers are read. An answer counts once
 * settled (reserve + settle = its charge); one still running is not spend yet.
 */
export async function loadAccountFacts(q: Queryable): Promise<AccountFacts> {
  const { rows } = await q.query<{ balance: number; spent24h: number; answers24h: number; recent: AccountFacts['recent'] | null }>(
    `with answers as (
       select request_id, max(id) as last_id, min(created_at) as started, (-sum(delta))::int as credits,
              max(provider) as provider, coalesce(max(voice_characters), 0) > 0 as voice
       from public.credits_ledger
       where reason in ('reserve', 'settle') and created_at > now() - interval '24 hours'
       group by request_id having bool_or(reason = 'settle'))
     select (select coalesce(sum(delta), 0)::int from public.credits_ledger) as balance,
            (select coalesce(sum(credits), 0)::int from answers) as "spent24h",
            (select count(*)::int from answers) as "answers24h",
            (select json_agg(r) from (select to_char(started at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as at, credits, provider, voice
                                      from answers order by last_id desc limit ${RECENT_ANSWERS}) r) as recent`,
  );
  const row = rows[0]!;
  return { balance: row.balance, spent24h: row.spent24h, answers24h: row.answers24h, recent: row.recent ?? [] };
}
