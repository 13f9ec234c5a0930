-- begin_answer (0018) took the conversation's row lock, then the user's
-- profile lock (in reserve_answer); finish_answer takes the profile lock (in
-- settle_answer), then the conversation's (the answer row's foreign key and
-- its updated_at). A question starting in a conversation while an answer in it
-- finished could therefore deadlock: the question failed, or the answer was
-- charged but its row was not written (finish_answer keeps the settlement when
-- the answer's write fails). Both now lock the profile first. The rest of
-- begin_answer is unchanged.
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
    -- The profile first, as finish_answer (settle_answer) takes it before the conversation: the other order
    -- deadlocks a question starting in a conversation against an answer finishing in it. reserve_answer takes it again.
    perform 1 from public.profiles where user_id = p_user for update;
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
