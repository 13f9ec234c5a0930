-- The chat answer's database work in one call before the provider and one
-- after it (issue 12). Before: ~17 round trips per answer — the per-minute
-- limit, the user's facts (begin + role, statement, commit), the reservation,
-- the cache lookup, the question (begin + role, statement, commit), the
-- settlement (begin + role, lock, read, insert, commit), the answer (three
-- more) and the cache store — and the balance was the sum of the user's whole
-- ledger, read on every answer (it grew with the user's history).

-- 1. A maintained balance. The ledger stays append-only and the source of
-- truth; this row is kept equal to sum(delta) by a trigger in the same
-- transaction as every insert, whoever inserts (reservations, settlements,
-- sign-up grants, operators). Concurrent inserts for one user serialize on
-- the row (reservations and settlements already hold the profile lock first,
-- so the lock order is always profile → balance). The `credit_balance` view
-- is left as it is: readers (RLS, the Data API) see what they saw.
create table zmarty_private.credit_balances (
  user_id uuid primary key references auth.users (id) on delete cascade,
  balance bigint not null
);
revoke all on table zmarty_private.credit_balances from public, anon, authenticated, service_role;
-- The ledger's extend (run as service_role) reads it.
grant select on table zmarty_private.credit_balances to service_role;

create function zmarty_private.track_balance() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  insert into zmarty_private.credit_balances as b (user_id, balance)
  select n.user_id, sum(n.delta) from new_rows n where n.user_id is not null group by n.user_id
  on conflict (user_id) do update set balance = b.balance + excluded.balance;
  return null;
end
$$;
revoke all on function zmarty_private.track_balance() from public, anon, authenticated, service_role;

-- No insert may slip between the backfill and the trigger (an older instance still running).
lock table public.credits_ledger in share row exclusive mode;
create trigger credits_ledger_balance
  after insert on public.credits_ledger
  referencing new table as new_rows
  for each statement execute function zmarty_private.track_balance();
insert into zmarty_private.credit_balances (user_id, balance)
select user_id, sum(delta) from public.credits_ledger where user_id is not null group by user_id;

-- 2. Recent spend reads the last day's settlements of one user, not their whole ledger.
create index credits_ledger_settled_idx on public.credits_ledger (user_id, created_at) where reason = 'settle';

-- 3. The reservation (0015) on the maintained balance.
create or replace function zmarty_private.reserve_answer(
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
      select coalesce((select b.balance from zmarty_private.credit_balances b where b.user_id = p_user), 0)::bigint as balance
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
revoke all on function zmarty_private.reserve_answer(uuid, text, integer, text, integer, integer, text) from public, anon, authenticated, service_role;

-- 4. A settlement in one call: the profile lock, what was held, the settle
-- row, the answer closed. Idempotent: a second call returns the first result.
-- `p_cost` and `p_text_cost` are whole credits (the server rounds up); the
-- charge never exceeds what was held. Security definer so that the sweeper,
-- which settles inside its own transaction as service_role, runs the same code.
create function zmarty_private.settle_answer(
  p_user uuid, p_request text, p_cost integer, p_text_cost integer, p_provider text, p_model text,
  p_input_tokens integer, p_output_tokens integer, p_voice_characters integer, p_estimated boolean
) returns table (charged integer, balance bigint)
  language plpgsql security definer set search_path = '' as $$
declare
  v_reserved integer;
  v_has_reserve boolean;
  v_previous integer;
  v_charged integer;
begin
  perform 1 from public.profiles where user_id = p_user for update;
  select -coalesce(sum(l.delta) filter (where l.reason in ('reserve', 'extend')), 0), bool_or(l.reason = 'reserve'),
         max(l.delta) filter (where l.reason = 'settle')
    into v_reserved, v_has_reserve, v_previous
    from public.credits_ledger l
   where l.user_id = p_user and l.request_id = p_request and l.reason in ('reserve', 'extend', 'settle');
  if not coalesce(v_has_reserve, false) then
    raise exception 'no reservation for request %', p_request;
  end if;
  if v_previous is not null then
    return query select v_reserved - v_previous,
      coalesce((select b.balance from zmarty_private.credit_balances b where b.user_id = p_user), 0)::bigint;
    return;
  end if;
  v_charged := least(greatest(0, p_cost), v_reserved);
  insert into public.credits_ledger
    (user_id, delta, reason, provider, model, input_tokens, output_tokens, voice_characters, estimated, request_id, voice_credits)
  values (p_user, v_reserved - v_charged, 'settle', p_provider, p_model, p_input_tokens, p_output_tokens, p_voice_characters, p_estimated,
          p_request, v_charged - least(v_charged, greatest(0, coalesce(p_text_cost, v_charged))));
  delete from zmarty_private.answers_in_flight f where f.user_id = p_user and f.request_id = p_request;
  return query select v_charged, coalesce((select b.balance from zmarty_private.credit_balances b where b.user_id = p_user), 0)::bigint;
end
$$;
revoke all on function zmarty_private.settle_answer(uuid, text, integer, integer, text, text, integer, integer, integer, boolean)
  from public, anon, authenticated, service_role;
grant execute on function zmarty_private.settle_answer(uuid, text, integer, integer, text, text, integer, integer, integer, boolean) to service_role;
