-- Tiers: every limit Zmarty applies per user lives in the tier table, read by
-- every web instance from here (never from its own environment), so a change
-- takes effect without a restart and the same way on every instance.
--
-- The tier table is public.tier_grants (0002): profiles.tier references it and
-- handle_new_user() reads its starting credits, so it is extended rather than
-- replaced. Its columns:
--   starting_credits   granted at sign-up (0002)
--   chat_per_minute    answers a user may start per minute (all instances together)
--   max_concurrent     answers in progress at once, checked in the ledger's reserve statement
--   max_output_tokens  output budget of one answer; it also sizes the credit reservation
--   voice_allowed      whether answers may be spoken (ElevenLabs); refused otherwise
-- The defaults below are the limits everyone had before tiers (CHAT_MAX_*).
alter table public.tier_grants
  add column chat_per_minute integer not null default 40 check (chat_per_minute between 1 and 10000),
  add column max_concurrent integer not null default 2 check (max_concurrent between 1 and 1000),
  add column max_output_tokens integer not null default 1024 check (max_output_tokens between 16 and 16384),
  add column voice_allowed boolean not null default true,
  add column updated_at timestamptz not null default now();

update public.tier_grants
   set chat_per_minute = 120, max_concurrent = 4, max_output_tokens = 2048, updated_at = now()
 where tier = 'pro';

-- Readable by signed-in users (what each tier includes is product information,
-- e.g. for a plans page), by nobody else; written only by the server's owner
-- connection (`npm run admin`, start-up seeds). Supabase's default privileges
-- gave anon and authenticated ALL on it: take that back.
revoke all on public.tier_grants from public, anon, authenticated;
grant select on public.tier_grants to authenticated;
revoke insert, update, delete, truncate on public.tier_grants from service_role;
grant select on public.tier_grants to service_role;
drop policy tier_grants_read on public.tier_grants;
create policy tier_grants_read on public.tier_grants for select to authenticated using (true);

-- A user never changes their own tier, whatever the table grants say (on
-- Supabase the default privileges grant UPDATE on every column of profiles to
-- the API roles). Independent of the column grants: a second gate.
create function public.forbid_own_tier_change() returns trigger
  language plpgsql set search_path = '' as $$
begin
  if new.tier is distinct from old.tier and current_user in ('anon', 'authenticated') then
    raise exception 'a user cannot change their own tier' using errcode = 'insufficient_privilege';
  end if;
  return new;
end
$$;
create trigger profiles_tier_not_by_users
  before update on public.profiles
  for each row execute function public.forbid_own_tier_change();
-- A trigger function is nobody's to call (Supabase's defaults grant EXECUTE to the API roles).
revoke all on function public.forbid_own_tier_change() from public, anon, authenticated, service_role;

-- Every operator change is a ledger row: credits granted or taken back
-- (`grant` / `adjustment`) and tier changes (`tier`, delta 0), each with the
-- operator's note (why).
alter table public.credits_ledger drop constraint credits_ledger_reason_check;
alter table public.credits_ledger add constraint credits_ledger_reason_check
  check (reason in ('grant', 'reserve', 'extend', 'settle', 'purchase', 'refund', 'adjustment', 'tier'));
alter table public.credits_ledger add column note text
  check (note is null or char_length(note) between 1 and 200);
