-- Chat database (Supabase A): profiles, watched symbols, the credits ledger.

create table public.tier_grants (
  tier text primary key check (tier ~ '^[a-z][a-z0-9_]{0,31}$'),
  starting_credits integer not null check (starting_credits >= 0)
);
insert into public.tier_grants (tier, starting_credits) values ('free', 1000), ('pro', 20000);

create table public.profiles (
  user_id uuid primary key references auth.users (id) on delete cascade,
  display_name text check (display_name is null or char_length(display_name) between 1 and 80),
  tier text not null default 'free' references public.tier_grants (tier),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table public.user_symbols (
  id bigint generated always as identity primary key,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  symbol text not null check (symbol ~ '^[A-Z0-9]{2,15}/[A-Z0-9]{2,10}$'),
  timeframe text not null default '1h' check (timeframe in ('1m', '5m', '15m', '1h', '4h', '1d')),
  created_at timestamptz not null default now(),
  unique (user_id, symbol, timeframe)
);
create index user_symbols_symbol_idx on public.user_symbols (symbol, timeframe);

-- Append-only. A charge is a pair of rows keyed by request id: `reserve`
-- (negative, before the provider call) and `settle` (the difference once the
-- real usage is known). unique (request_id, reason) makes every step
-- idempotent: a retried or replayed request can never be charged twice.
create table public.credits_ledger (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  delta integer not null,
  reason text not null check (reason in ('grant', 'reserve', 'settle', 'purchase', 'refund', 'adjustment')),
  provider text,
  model text,
  input_tokens integer check (input_tokens >= 0),
  output_tokens integer check (output_tokens >= 0),
  voice_characters integer check (voice_characters >= 0),
  estimated boolean not null default false,
  request_id text not null check (char_length(request_id) between 1 and 200),
  created_at timestamptz not null default now(),
  unique (request_id, reason)
);
create index credits_ledger_user_idx on public.credits_ledger (user_id, id);

create function public.forbid_ledger_rewrite() returns trigger language plpgsql as $$
begin
  raise exception 'credits_ledger is append-only' using errcode = 'insufficient_privilege';
end
$$;
create trigger credits_ledger_append_only
  before update or delete on public.credits_ledger
  for each row execute function public.forbid_ledger_rewrite();

-- security_invoker: the view applies the caller's RLS, so a user sees only their balance.
create view public.credit_balance with (security_invoker = true) as
  select user_id, coalesce(sum(delta), 0)::bigint as balance
  from public.credits_ledger
  group by user_id;

-- A new user gets a profile and the starting grant of their tier in the same
-- transaction as the auth.users insert (GoTrue's or Supabase's).
create function public.handle_new_user() returns trigger
  language plpgsql security definer set search_path = public as $$
declare
  new_tier text := coalesce(nullif(new.raw_app_meta_data ->> 'tier', ''), 'free');
  grant_amount integer;
begin
  select starting_credits into grant_amount from public.tier_grants where tier = new_tier;
  if grant_amount is null then
    new_tier := 'free';
    select starting_credits into grant_amount from public.tier_grants where tier = 'free';
  end if;
  insert into public.profiles (user_id, display_name, tier)
    values (new.id, nullif(left(coalesce(new.raw_user_meta_data ->> 'display_name', ''), 80), ''), new_tier);
  if coalesce(grant_amount, 0) > 0 then
    insert into public.credits_ledger (user_id, delta, reason, request_id)
      values (new.id, grant_amount, 'grant', 'signup:' || new.id::text);
  end if;
  return new;
end
$$;
create trigger on_auth_user_created
  after insert on auth.users
  for each row execute function public.handle_new_user();

-- Row Level Security on every table.
alter table public.tier_grants enable row level security;
alter table public.profiles enable row level security;
alter table public.user_symbols enable row level security;
alter table public.credits_ledger enable row level security;

create policy tier_grants_read on public.tier_grants for select to anon, authenticated using (true);

create policy profiles_select_own on public.profiles for select to authenticated using (user_id = auth.uid());
create policy profiles_update_own on public.profiles for update to authenticated
  using (user_id = auth.uid()) with check (user_id = auth.uid());

create policy user_symbols_select_own on public.user_symbols for select to authenticated using (user_id = auth.uid());
create policy user_symbols_insert_own on public.user_symbols for insert to authenticated with check (user_id = auth.uid());
create policy user_symbols_update_own on public.user_symbols for update to authenticated
  using (user_id = auth.uid()) with check (user_id = auth.uid());
create policy user_symbols_delete_own on public.user_symbols for delete to authenticated using (user_id = auth.uid());

create policy credits_ledger_select_own on public.credits_ledger for select to authenticated using (user_id = auth.uid());

-- Table privileges: the second gate after RLS. Users may change their display
-- name, never their tier; the ledger is written only by the service role.
grant select on public.tier_grants to anon, authenticated;
grant select on public.profiles to authenticated;
grant update (display_name, updated_at) on public.profiles to authenticated;
grant select, insert, delete on public.user_symbols to authenticated;
grant update (timeframe) on public.user_symbols to authenticated;
grant select on public.credits_ledger to authenticated;
grant select on public.credit_balance to authenticated;
grant all on public.profiles, public.user_symbols, public.tier_grants to service_role;
grant select, insert on public.credits_ledger to service_role;
grant select on public.credit_balance to service_role;
