-- Watchers sync ("database webhook"), chat side: a transactional outbox.
--
-- Every change to public.user_symbols writes the Supabase Database Webhook
-- payload ({type, table, schema, record, old_record}) into watchers_outbox in
-- the same transaction, so an event exists exactly when the change commits
-- and survives the trading database or the watchers-upsert function being
-- down. The relay (server/watchers-sync/outbox.relay.ts) delivers the rows in
-- id order until the function acknowledges them. See docs/WATCHERS_SYNC.md.

create table public.watchers_outbox (
  id bigint generated always as identity primary key,
  -- Sent as x-webhook-id; the receiver's replay protection keys on it, so a
  -- redelivery after a lost acknowledgement changes nothing.
  event_id uuid not null default gen_random_uuid() unique,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  attempts integer not null default 0,
  last_attempt_at timestamptz,
  last_error text,
  delivered_at timestamptz
);
-- The relay's only hot query: the undelivered head, in id order.
create index watchers_outbox_pending_idx on public.watchers_outbox (id) where delivered_at is null;

-- SECURITY DEFINER: users change user_symbols as role `authenticated` under
-- RLS and have no right to the outbox; the trigger writes it as the owner.
-- An empty search_path makes every name below explicit.
create function public.enqueue_watchers_event() returns trigger
  language plpgsql security definer set search_path = '' as $$
begin
  -- An UPDATE that changes nothing (e.g. timeframe set to its own value) is not an event.
  if tg_op = 'UPDATE' and old is not distinct from new then
    return null;
  end if;
  -- Serialises the writers of events until they commit, so outbox ids are
  -- handed out in commit order: without it a transaction could take id 5,
  -- commit after the one that took id 6, and the relay would already have
  -- sent 6. Held from here to commit; user_symbols writes are rare, short
  -- transactions, so the wait is negligible. (Re-entrant within a transaction.)
  perform pg_catalog.pg_advisory_xact_lock(72616175);
  insert into public.watchers_outbox (payload) values (jsonb_build_object(
    'type', tg_op,
    'table', tg_table_name,
    'schema', tg_table_schema,
    'record', case when tg_op = 'DELETE' then null else to_jsonb(new) end,
    'old_record', case when tg_op = 'INSERT' then null else to_jsonb(old) end
  ));
  -- Delivered at commit only (and once per transaction: identical
  -- notifications collapse), so the relay never wakes for a rolled-back change.
  perform pg_notify('watchers_outbox', '');
  return null;
end
$$;
revoke all on function public.enqueue_watchers_event() from public, anon, authenticated;

create trigger user_symbols_watchers_outbox
  after insert or update or delete on public.user_symbols
  for each row execute function public.enqueue_watchers_event();

-- Server-side only: RLS on with no policies, and no grants to API roles (on
-- Supabase, default privileges would otherwise expose it through PostgREST).
alter table public.watchers_outbox enable row level security;
revoke all on public.watchers_outbox from anon, authenticated;
