-- Exactly the privileges each role needs, on Supabase too.
--
-- Supabase's default privileges give anon, authenticated and service_role ALL
-- on every table, sequence and function the migrating role (`postgres`)
-- creates in `public`, and the Data API serves `public` to anyone with the anon
-- key. The earlier files only added grants, so on Supabase a signed-in user
-- could `update profiles set tier = 'pro'` on their own row (RLS allowed it).
-- Here every object of ours in `public` loses every privilege the API roles
-- hold, then gets back the list below, the same on Supabase and on a plain
-- PostgreSQL. test/supabase-shape.test.ts and `npm run check:supabase` hold
-- every exposed object to the allowlist in common/supabase-checks/allowlist.ts.

do $$
declare
  obj record;
  api_role text;
begin
  for obj in
    select format('%I.%I', n.nspname, c.relname) as name, c.relkind
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
      and c.relowner = (select oid from pg_roles where rolname = current_user)
  loop
    foreach api_role in array array['public', 'anon', 'authenticated', 'service_role'] loop
      execute format('revoke all on %s %s from %s', case when obj.relkind = 'S' then 'sequence' else 'table' end, obj.name,
        case when api_role = 'public' then 'public' else quote_ident(api_role) end);
    end loop;
  end loop;
  -- Functions are callable through the Data API (/rpc); ours are trigger
  -- functions, run by their triggers, which need no EXECUTE right.
  for obj in
    select p.oid::regprocedure::text as name
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.proowner = (select oid from pg_roles where rolname = current_user)
  loop
    execute format('revoke all on routine %s from public, anon, authenticated, service_role', obj.name);
  end loop;
end
$$;

grant select on public.tier_grants to anon, authenticated;
grant select on public.profiles to authenticated;
grant update (display_name, updated_at) on public.profiles to authenticated;
grant select, insert, delete on public.user_symbols to authenticated;
grant update (timeframe) on public.user_symbols to authenticated;
grant select on public.credits_ledger to authenticated;
grant select on public.credit_balance to authenticated;
grant select, delete on public.conversations to authenticated;
grant update (title, updated_at) on public.conversations to authenticated;
grant select on public.messages to authenticated;

grant select, insert, update, delete on public.profiles, public.user_symbols, public.tier_grants to service_role;
grant select, insert on public.credits_ledger to service_role;
grant select on public.credit_balance to service_role;
grant select, insert, update, delete on public.conversations, public.messages to service_role;

-- Deleting a user (GoTrue, the dashboard, the admin API) keeps their ledger,
-- anonymised: the rows stay for the accounts (what was granted, bought and
-- spent, by which provider), the link to the person and their words go. The
-- foreign key sets user_id to null; the append-only trigger lets exactly that
-- update through, and only once the user is gone, blanking the question too.
alter table public.credits_ledger alter column user_id drop not null;
alter table public.credits_ledger drop constraint credits_ledger_user_id_fkey;
alter table public.credits_ledger add constraint credits_ledger_user_id_fkey
  foreign key (user_id) references auth.users (id) on delete set null;

create or replace function public.forbid_ledger_rewrite() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'UPDATE'
     and old.user_id is not null and new.user_id is null
     and (to_jsonb(old) - 'user_id' - 'question') = (to_jsonb(new) - 'user_id' - 'question')
     and not exists (select 1 from auth.users u where u.id = old.user_id) then
    new.question := null;
    return new;
  end if;
  raise exception 'credits_ledger is append-only' using errcode = 'insufficient_privilege';
end
$$;
revoke all on function public.forbid_ledger_rewrite() from public, anon, authenticated, service_role;

-- Anonymous sign-ins (auth.users.is_anonymous, if the project enables them)
-- get their own starting grant, none by default: otherwise every anonymous
-- session would mint a free tier's credits. The server writes the amount at
-- start from STARTING_CREDITS_ANONYMOUS.
create table zmarty_private.signup_settings (
  id boolean primary key default true check (id),
  anonymous_starting_credits integer not null default 0 check (anonymous_starting_credits >= 0)
);
insert into zmarty_private.signup_settings default values;
revoke all on zmarty_private.signup_settings from public, anon, authenticated, service_role;

-- What signing up gives a user, in one place: the sign-up trigger and the
-- backfill below both call it. Internal, so not callable through the Data API.
create function zmarty_private.provision_user(u auth.users) returns void
  language plpgsql security definer set search_path = '' as $$
declare
  user_tier text := coalesce(nullif(u.raw_app_meta_data ->> 'tier', ''), 'free');
  grant_amount integer;
begin
  select starting_credits into grant_amount from public.tier_grants where tier = user_tier;
  if grant_amount is null then
    user_tier := 'free';
    select starting_credits into grant_amount from public.tier_grants where tier = 'free';
  end if;
  -- Read through jsonb: older GoTrue versions have no is_anonymous column.
  if coalesce((pg_catalog.to_jsonb(u) ->> 'is_anonymous')::boolean, false) then
    select anonymous_starting_credits into grant_amount from zmarty_private.signup_settings;
  end if;
  insert into public.profiles (user_id, display_name, tier)
    values (u.id, nullif(left(coalesce(u.raw_user_meta_data ->> 'display_name', ''), 80), ''), user_tier)
    on conflict (user_id) do nothing;
  if coalesce(grant_amount, 0) > 0 then
    insert into public.credits_ledger (user_id, delta, reason, request_id)
      values (u.id, grant_amount, 'grant', 'signup:' || u.id::text)
      on conflict (user_id, request_id, reason) do nothing;
  end if;
end
$$;
revoke all on function zmarty_private.provision_user(auth.users) from public;

create or replace function public.handle_new_user() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  perform zmarty_private.provision_user(new);
  return new;
end
$$;
revoke all on function public.handle_new_user() from public, anon, authenticated, service_role;

-- Users who existed before these migrations (a project that already had
-- users when Zmarty was pointed at it) get what signing up would have given.
select zmarty_private.provision_user(u)
from auth.users u
where not exists (select 1 from public.profiles p where p.user_id = u.id);
