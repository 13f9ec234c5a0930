-- An answer's database work in one call before the provider is asked
-- (begin_answer) and one after it (finish_answer). Both run as the server's
-- own connection (the database owner), with the user id the server verified
-- from the JWT: no API role may call them.

-- Before the provider call, in this order, in one transaction:
-- 1. the answers-per-minute limit (when p_limit_key is set): the upsert of
--    rate-limiter-flexible's RateLimiterPostgres on the same table, key and
--    arithmetic, so the library's limiters and this one count the same rows;
-- 2. the user's watchlist. The server builds the prompt from a watchlist it
--    remembers; when the one it names (p_watch_hash) is not the stored one, or
--    it names none, nothing else is done: the facts are returned (watchlist,
--    account, the conversation's recent messages) and the server calls again;
-- 3. the answer cache lookup (p_cache_key);
-- 4. the conversation, locked (not the user's: not_found, nothing written);
-- 5. the reservation (reserve_answer: conflict, answers in progress, balance);
-- 6. the question, in a new conversation or appended to the user's own.
create function zmarty_private.begin_answer(
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
  v_watch jsonb;
  v_hash text;
  v_history jsonb;
  v_account jsonb;
  v_cached jsonb;
  v_conversation uuid;
  r record;
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

  select coalesce(jsonb_agg(jsonb_build_object('symbol', s.symbol, 'timeframe', s.timeframe) order by s.created_at, s.id), '[]'::jsonb)
    into v_watch from public.user_symbols s where s.user_id = p_user;
  v_hash := md5(v_watch::text);

  if p_watch_hash is distinct from v_hash then
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
        return query select 'not_found'::text, null::bigint, null::jsonb, null::text, null::jsonb, null::jsonb,
          null::text[], null::bigint, null::integer, null::integer, null::integer, null::uuid, null::jsonb;
        return;
      end if;
    end if;
    -- Balance from the maintained row; spend from the last day's settlements only (bounded, see 0016).
    -- An answer counts once settled: its charge is what its reserve and extension held less the settle's refund.
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
    return query select 'facts'::text, null::bigint, v_watch, v_hash, v_account, v_history,
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
revoke all on function zmarty_private.begin_answer(uuid, text, text, text, integer, bigint, bigint, uuid, integer, text, integer, integer, text, text, text, text)
  from public, anon, authenticated, service_role;

-- After the answer, in one call: the settlement (settle_answer), the answer
-- beside its question, and (p_cache_key) the answer kept in the answer cache.
-- The settlement is what must not fail: the answer and the cache entry are
-- written in subtransactions, and a failure of either is returned for the
-- server to log, never undoing the charge.
create function zmarty_private.finish_answer(
  p_user uuid, p_request text, p_cost integer, p_text_cost integer, p_provider text, p_model text,
  p_input_tokens integer, p_output_tokens integer, p_voice_characters integer, p_estimated boolean,
  p_text text, p_status text, p_cache_key text, p_cache_text text, p_cache_ttl_ms double precision
) returns table (charged integer, balance bigint, answer_failure text, cache_failure text)
  language plpgsql set search_path = '' as $$
#variable_conflict use_column
declare
  s record;
  v_answer_failure text;
  v_cache_failure text;
begin
  select * into s from zmarty_private.settle_answer(p_user, p_request, p_cost, p_text_cost, p_provider, p_model,
    p_input_tokens, p_output_tokens, p_voice_characters, p_estimated);
  begin
    -- Beside its question (found by request id); nothing when the conversation was deleted meanwhile; a second write is a no-op.
    with answer as (
      insert into public.messages (conversation_id, user_id, request_id, role, content, provider, model, status,
                                   input_tokens, output_tokens, voice_characters, credits, completed_at)
      select q.conversation_id, q.user_id, q.request_id, 'assistant', p_text, p_provider, p_model, p_status,
             p_input_tokens, p_output_tokens, p_voice_characters, s.charged, now()
        from public.messages q where q.user_id = p_user and q.request_id = p_request and q.role = 'user'
      on conflict (user_id, request_id, role) do nothing
      returning conversation_id
    )
    update public.conversations set updated_at = now() where id in (select a.conversation_id from answer a);
  exception when others then
    v_answer_failure := sqlerrm;
  end;
  if p_cache_key is not null then
    begin
      insert into zmarty_private.answer_cache (key, answer, provider, model, output_tokens, expires_at)
      values (p_cache_key, p_cache_text, p_provider, p_model, p_output_tokens, now() + make_interval(secs => p_cache_ttl_ms / 1000))
      on conflict (key) do nothing;
    exception when others then
      v_cache_failure := sqlerrm;
    end;
  end if;
  return query select s.charged, s.balance, v_answer_failure, v_cache_failure;
end
$$;
revoke all on function zmarty_private.finish_answer(uuid, text, integer, integer, text, text, integer, integer, integer, boolean, text, text, text, text, double precision)
  from public, anon, authenticated, service_role;
