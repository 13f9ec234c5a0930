-- A reservation in one round trip. The ledger's reserve was four (begin and
-- role, the profile lock, the statement, commit), all on every answer's time
-- to first token. The same lock and the same statement now run inside one
-- function call, in the implicit transaction of that call: the lock is held
-- until it commits, and the statement after the lock takes its own snapshot
-- (plpgsql, volatile, read committed), so it sees every reservation committed
-- before ours, as before.
create function zmarty_private.reserve_answer(
  p_user uuid, p_request text, p_amount integer, p_instance text, p_max_open integer, p_min_amount integer, p_question text
) returns table (has_profile boolean, reasons text[], balance bigint, open integer, max_open integer, reserved integer)
  language plpgsql set search_path = '' as $$
#variable_conflict use_column
begin
  perform 1 from public.profiles where user_id = p_user for update;
  if not found then
    return query select false, '{}'::text[], 0::bigint, 0, 0, null::integer;
    return;
  end if;
  return query
    with existing as (
      select l.reason from public.credits_ledger l where l.user_id = p_user and l.request_id = p_request and l.reason in ('reserve', 'settle')
    ), current as (
      select coalesce(sum(l.delta), 0)::bigint as balance from public.credits_ledger l where l.user_id = p_user
    ), open as (
      select count(*)::integer as n, coalesce(p_max_open, (
               select t.max_concurrent from public.profiles p join public.tier_grants t on t.tier = p.tier where p.user_id = p_user
             )) as max_open
        from zmarty_private.answers_in_flight f where f.user_id = p_user
    ), inserted as (
      -- The full amount when the balance covers it, else the whole balance if that still buys a minimal answer.
      insert into public.credits_ledger (user_id, delta, reason, request_id, question)
      select p_user, -least(current.balance, p_amount), 'reserve', p_request, p_question from current, open
      where current.balance >= p_min_amount and open.n < open.max_open and not exists (select 1 from existing)
      returning -delta as reserved
    ), tracked as (
      insert into zmarty_private.answers_in_flight (user_id, request_id, instance_id, reserved)
      select p_user, p_request, p_instance, i.reserved from inserted i
      returning reserved
    )
    select true,
           coalesce((select array_agg(e.reason) from existing e), '{}'::text[]),
           (select c.balance from current c),
           (select o.n from open o),
           (select o.max_open from open o),
           (select t.reserved::integer from tracked t);
end
$$;
-- Functions are executable by PUBLIC by default: this one is the server's only.
revoke all on function zmarty_private.reserve_answer(uuid, text, integer, text, integer, integer, text) from public, anon, authenticated, service_role;
