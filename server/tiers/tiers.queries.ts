/** SQL of the tier table (public.tier_grants, see sql/chat/0011_tiers.sql). */

export interface TierRow {
  tier: string;
  startingCredits: number;
  chatPerMinute: number;
  maxConcurrent: number;
  maxOutputTokens: number;
  voiceAllowed: boolean;
}

const columns = `t.tier, t.starting_credits as "startingCredits", t.chat_per_minute as "chatPerMinute",
  t.max_concurrent as "maxConcurrent", t.max_output_tokens as "maxOutputTokens", t.voice_allowed as "voiceAllowed"`;

/** The tier of one user, by their profile. */
export const userTierSql = `select ${columns} from public.profiles p join public.tier_grants t on t.tier = p.tier where p.user_id = $1`;

/** Every tier, with how many users are on it. */
export const listTiersSql = `select ${columns}, (select count(*) from public.profiles p where p.tier = t.tier)::integer as users
  from public.tier_grants t order by t.starting_credits, t.tier`;

/**
 * Sets a tier's values from the environment's seeds: a null keeps the table's
 * value. Runs as the owner connection (the API roles may only read tiers).
 */
export const seedTierSql = `update public.tier_grants set
    starting_credits = coalesce($2::integer, starting_credits),
    chat_per_minute = coalesce($3::integer, chat_per_minute),
    max_concurrent = coalesce($4::integer, max_concurrent),
    max_output_tokens = coalesce($5::integer, max_output_tokens),
    updated_at = now()
  where tier = $1
    and row(coalesce($2::integer, starting_credits), coalesce($3::integer, chat_per_minute), coalesce($4::integer, max_concurrent), coalesce($5::integer, max_output_tokens))
        is distinct from row(starting_credits, chat_per_minute, max_concurrent, max_output_tokens)`;
