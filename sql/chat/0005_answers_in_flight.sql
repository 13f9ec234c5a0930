-- Answers in flight, and request ids scoped per user.
--
-- A reservation is always settled: every open reservation has a row here,
-- written in the same statement as the `reserve` ledger row and deleted in the
-- same transaction as the `settle` row. The instance running the answer beats
-- its rows' heartbeat and records what it has delivered so far; when an
-- instance dies, a sweeper settles its stale rows for what was delivered and
-- releases the rest. The count of a user's rows is also their number of
-- answers in progress, checked under the profile lock that reservations take.

-- Internal tables live outside `public`, which Supabase exposes through its Data API.
create schema if not exists zmarty_private;
revoke all on schema zmarty_private from public;
grant usage on schema zmarty_private to service_role;

create table zmarty_private.answers_in_flight (
  user_id uuid not null references auth.users (id) on delete cascade,
  request_id text not null check (char_length(request_id) between 1 and 200),
  -- The process running the answer (random per process start), for logs and operators.
  instance_id text not null,
  reserved integer not null check (reserved > 0),
  started_at timestamptz not null default now(),
  heartbeat_at timestamptz not null default now(),
  -- What the running instance knows was delivered (at its last heartbeat):
  -- the sweeper charges this, never more than the reservation.
  provider text,
  model text,
  input_tokens integer not null default 0 check (input_tokens >= 0),
  output_tokens integer not null default 0 check (output_tokens >= 0),
  voice_characters integer not null default 0 check (voice_characters >= 0),
  charge integer not null default 0 check (charge >= 0),
  primary key (user_id, request_id)
);
create index answers_in_flight_heartbeat_idx on zmarty_private.answers_in_flight (heartbeat_at);
alter table zmarty_private.answers_in_flight enable row level security;
grant select, insert, update, delete on zmarty_private.answers_in_flight to service_role;

-- Request ids are the client's: unique per user, so one user can neither take
-- nor learn about an id another user will use.
alter table public.credits_ledger drop constraint credits_ledger_request_id_reason_key;
alter table public.credits_ledger add constraint credits_ledger_user_request_reason_key unique (user_id, request_id, reason);

-- Reservations left open before this migration (a crash, a shutdown) are
-- handed to the sweeper as long dead, charged nothing.
insert into zmarty_private.answers_in_flight (user_id, request_id, instance_id, reserved, started_at, heartbeat_at)
select r.user_id, r.request_id, 'before-0005', -r.delta, r.created_at, 'epoch'
from public.credits_ledger r
where r.reason = 'reserve'
  and r.delta < 0
  and not exists (
    select 1 from public.credits_ledger s
    where s.user_id = r.user_id and s.request_id = r.request_id and s.reason = 'settle'
  );
