-- The watchlist check of begin_answer (0017) by a version instead of a hash.
-- Every answer's first call aggregated the user's watchlist into JSON and
-- hashed it, to compare with the hash the server built its prompt from: ~0.2
-- of the ~0.8 ms the call takes alone, on every answer's time to first token.
-- Now each change to a user's watchlist bumps a per-user version, in the
-- changing transaction, and the check is one primary-key probe; the list is
-- aggregated only when the versions differ (the facts the server then keeps).
-- A version only grows, so a list changed and changed back still counts as a
-- change (one extra facts read), never the other way round.
create table zmarty_private.watchlist_versions (
  user_id uuid primary key references auth.users (id) on delete cascade,
  version bigint not null check (version > 0)
);
revoke all on table zmarty_private.watchlist_versions from public, anon, authenticated, service_role;

-- SECURITY DEFINER: users change user_symbols as `authenticated` under RLS and have no right to this table.
-- Row level: watchlist writes are rare and small. A delete only bumps an existing row: the user's own deletion
-- cascades here too, and must not insert a row for a user being deleted.
create function zmarty_private.bump_watchlist_version() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'UPDATE' and old is not distinct from new then
    return null;
  end if;
  if tg_op = 'DELETE' then
    update zmarty_private.watchlist_versions set version = version + 1 where user_id = old.user_id;
    return null;
  end if;
  if tg_op = 'UPDATE' and old.user_id is distinct from new.user_id then
    update zmarty_private.watchlist_versions set version = version + 1 where user_id = old.user_id;
  end if;
  insert into zmarty_private.watchlist_versions as w (user_id, version) values (new.user_id, 1)
  on conflict (user_id) do update set version = w.version + 1;
  return null;
end
$$;
revoke all on function zmarty_private.bump_watchlist_version() from public, anon, authenticated, service_role;

-- No change may slip between the backfill and the trigger (an older instance still running).
lock table public.user_symbols in share row exclusive mode;
create trigger user_symbols_watchlist_version
  after insert or update or delete on public.user_symbols
  for each row execute function zmarty_private.bump_watchlist_version();
-- Every user with a watchlist starts at 1; a user without one reads as 0 (no row).
insert into zmarty_private.watchlist_versions (user_id, version) select distinct user_id, 1 from public.user_symbols;
-- A truncate of user_symbols (operators only) changes every list: every version moves on.
create function zmarty_private.bump_all_watchlist_versions() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  update zmarty_private.watchlist_versions set version = version + 1;
  return null;
end
$$;
revoke all on function zmarty_private.bump_all_watchlist_versions() from public, anon, authenticated, service_role;
create trigger user_symbols_truncated_watchlist_version
  after truncate on public.user_symbols
  for each statement execute function zmarty_private.bump_all_watchlist_versions();

-- What an answer is grounded in from the chat database, for one user: the
-- watchlist and its version (one statement: the pair belongs together), the
-- account (balance from the maintained row; spend from the last day's
-- settlements, an answer counted once settled with its reserve and extension),
-- and with p_conversation its newest p_history messages, oldest first (known
-- is false when that conversation is not the user's). begin_answer returns
-- these when the watchlist the server names is not the stored one; the price
-- preview (/api/credits/prices) reads them here: one definition of the facts.
create function zmarty_private.answer_facts(p_user uuid, p_conversation uuid, p_history integer)
returns table (known boolean, watch jsonb, watch_hash text, account jsonb, history jsonb)
  language plpgsql stable set search_path = '' as $$
#variable_conflict use_column
declare
  v_watch jsonb;
  v_hash text;
  v_history jsonb;
  v_account jsonb;
begin
  if p_conversation is not null then
    -- No row at all: not the user's conversation; one row of nulls: a conversation with no message yet.
    select jsonb_agg(jsonb_build_object('requestId', m.request_id, 'role', m.role, 'content', m.content) order by m.id)
      into v_history
      from public.conversations c
      left join lateral (
        select x.id, x.request_id, x.role, x.content from public.messages x where x.conversation_id = c.id order by x.id desc limit p_history
      ) m on true
     where c.id = p_conversation and c.user_id = p_user;
    if v_history is null then
      return query select false, null::jsonb, null::text, null::jsonb, null::jsonb;
      return;
    end if;
  end if;
  select coalesce((select w.version from zmarty_private.watchlist_versions w where w.user_id = p_user), 0)::text,
         (select coalesce(jsonb_agg(jsonb_build_object('symbol', s.symbol, 'timeframe', s.timeframe) order by s.created_at, s.id), '[]'::jsonb)
            from public.user_symbols s where s.user_id = p_user)
    into v_hash, v_watch;
  with answers as (
    select s.id as last_id, rv.created_at as started, (-(rv.delta + coalesce(ex.delta, 0) + s.delta))::integer as credits,
           s.provider, coalesce(s.voice_characters, 0) > 0 as voice
      from public.credits_ledger s
      join public.credits_ledger rv on rv.user_id = s.user_id and rv.request_id = s.request_id and rv.reason = 'reserve'
      left join public.credits_ledger ex on ex.user_id = s.user_id and ex.request_id = s.request_id and ex.reason = 'extend'
     where s.user_id = p_user and s.reason = 'settle' and s.created_at > now() - interval '24 hours'
  )
  select jsonb_build_object(
           'balance', coalesce((select b.balance from zmarty_private.credit_balances b where b.user_id = p_user), 0),
           'spent24h', (select coalesce(sum(a.credits), 0) from answers a),
           'answers24h', (select count(*) from answers a),
           'recent', coalesce((select jsonb_agg(jsonb_build_object('at', x.at, 'credits', x.credits, 'provider', x.provider, 'voice', x.voice) order by x.last_id desc)
                                 from (select to_char(a.started at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as at, a.credits, a.provider, a.voice, a.last_id
                                         from answers a order by a.last_id desc limit 5) x), '[]'::jsonb))
    into v_account;
  return query select true, v_watch, v_hash, v_account, v_history;
end
$$;
revoke all on function zmarty_private.answer_facts(uuid, uuid, integer) from public, anon, authenticated, service_role;

-- begin_answer (0017): its watchlist checked by version, its facts from answer_facts; the rest is unchanged.
create or replace function zmarty_private.begin_answer(
  p_user uuid, p_request text, p_instance text,
  p_limit_key text, p_per_minute integer, p_window_ms bigint, p_now_ms bigint,
  p_conversation uuid, p_history integer, p_watch_hash text,
  p_amount integer, p_min_amount integer, p_preview text, p_message text, p_title text, p_cache_key text
) returns table (
  outcome text, retry_ms bigint, watch jsonb, watch_hash text, account jsonb, history jsonb,
  reasons text[], balance bigint, open integer, max_open integer, reserved integer,
  conversation_id uuid, cached jsonb
) language plpgsql set search_path = '' as $$
#variable_conflict use_column
declare
  v_points integer;
  v_expire bigint;
  v_hash text;
  v_cached jsonb;
  v_conversation uuid;
  r record;
  f record;
begin
  if p_limit_key is not null then
    insert into zmarty_private.rate_limits as t (key, points, expire) values (p_limit_key, 1, p_now_ms + p_window_ms)
    on conflict (key) do update set
      points = case when t.expire <= p_now_ms then 1 else t.points + 1 end,
      expire = case when t.expire <= p_now_ms then p_now_ms + p_window_ms else t.expire end
    returning t.points, t.expire into v_points, v_expire;
    if v_points > p_per_minute then
      return query select 'rate_limited'::text, greatest(coalesce(v_expire - p_now_ms, 0), 0), null::jsonb, null::text, null::jsonb, null::jsonb,
        null::text[], null::bigint, null::integer, null::integer, null::integer, null::uuid, null::jsonb;
      return;
    end if;
  end if;

  select coalesce((select w.version from zmarty_private.watchlist_versions w where w.user_id = p_user), 0)::text into v_hash;

  if p_watch_hash is distinct from v_hash then
    select * into f from zmarty_private.answer_facts(p_user, p_conversation, p_history);
    if not f.known then
      return query select 'not_found'::text, null::bigint, null::jsonb, null::text, null::jsonb, null::jsonb,
        null::text[], null::bigint, null::integer, null::integer, null::integer, null::uuid, null::jsonb;
      return;
    end if;
    return query select 'facts'::text, null::bigint, f.watch, f.watch_hash, f.account, f.history,
      null::text[], null::bigint, null::integer, null::integer, null::integer, null::uuid, null::jsonb;
    return;
  end if;

  if p_cache_key is not null then
    select jsonb_build_object('text', c.answer, 'provider', c.provider, 'model', c.model, 'outputTokens', c.output_tokens)
      into v_cached from zmarty_private.answer_cache c where c.key = p_cache_key and c.expires_at > now();
  end if;

  if p_conversation is not null then
    -- Locked as appending would: a delete running now comes first (not found) or waits and takes the new message with it.
    perform 1 from public.conversations c where c.id = p_conversation and c.user_id = p_user for update;
    if not found then
      return query select 'not_found'::text, null::bigint, null::jsonb, null::text, null::jsonb, null::jsonb,
        null::text[], null::bigint, null::integer, null::integer, null::integer, null::uuid, null::jsonb;
      return;
    end if;
  end if;

  select * into r from zmarty_private.reserve_answer(p_user, p_request, p_amount, p_instance, null, p_min_amount, p_preview);
  if not r.has_profile then
    return query select 'no_profile'::text, null::bigint, null::jsonb, null::text, null::jsonb, null::jsonb,
      null::text[], null::bigint, null::integer, null::integer, null::integer, null::uuid, v_cached;
    return;
  end if;
  if r.reserved is null then
    return query select 'refused'::text, null::bigint, null::jsonb, null::text, null::jsonb, null::jsonb,
      r.reasons, r.balance, r.open, r.max_open, null::integer, null::uuid, v_cached;
    return;
  end if;

  if p_conversation is null then
    insert into public.conversations (user_id, title) values (p_user, p_title) returning id into v_conversation;
  else
    update public.conversations set updated_at = now() where id = p_conversation;
    v_conversation := p_conversation;
  end if;
  insert into public.messages (conversation_id, user_id, request_id, role, content)
    values (v_conversation, p_user, p_request, 'user', p_message);

  return query select 'reserved'::text, null::bigint, null::jsonb, null::text, null::jsonb, null::jsonb,
    r.reasons, r.balance - r.reserved, r.open + 1, r.max_open, r.reserved, v_conversation, v_cached;
end
$$;
