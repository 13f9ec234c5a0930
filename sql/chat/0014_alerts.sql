-- Operations alerts, shared by every web instance (server/alerts/).
--
-- Each instance writes what it saw since its last tick to ops_samples; every
-- instance evaluates the rules over everyone's samples, so all reach the same
-- verdict. An alert's state lives in one row of `alerts`: the instance whose
-- upsert flips it (one statement, under the row lock) is the one that logs the
-- change and queues its webhook post in `alert_notifications`, in the same
-- statement; any instance delivers queued posts, one at a time per post by a
-- lease. So each alert is announced once when it fires and once when it
-- resolves, however many instances run. Internal: no API role may touch these.
create schema if not exists zmarty_private;
revoke all on schema zmarty_private from public, anon, authenticated;

create table zmarty_private.ops_samples (
  id bigserial primary key,
  instance_id text not null,
  at timestamptz not null default now(),
  -- HTTP responses and socket acks since the instance's previous sample, and how many were server errors (5xx).
  requests integer not null check (requests >= 0),
  errors integer not null check (errors >= 0),
  -- Failed model-provider attempts since the previous sample: {"xai": 3, ...}.
  provider_errors jsonb not null default '{}',
  -- The instance's failing health checks at the time of the sample (queue depth has its own alert).
  failing_checks text[] not null default '{}',
  -- Its reading of the pipeline's queues ({"ingest_indicators": 3, ...}; null if unreadable) and when that
  -- reading was taken: the rules judge the newest reading of any instance, so all judge the same one.
  queues jsonb,
  queues_read_at timestamptz
);
create index ops_samples_at_idx on zmarty_private.ops_samples (at);

create table zmarty_private.alerts (
  name text primary key,
  state text not null check (state in ('firing', 'ok')),
  changed_at timestamptz not null default now(),
  message text not null
);

create table zmarty_private.alert_notifications (
  id bigserial primary key,
  name text not null,
  state text not null check (state in ('firing', 'ok')),
  message text not null,
  created_at timestamptz not null default now(),
  -- Delivery: claimed for `lease_until` by one instance; sent_at once the webhook took it.
  lease_until timestamptz,
  attempts integer not null default 0,
  sent_at timestamptz
);
create index alert_notifications_pending_idx on zmarty_private.alert_notifications (id) where sent_at is null;

alter table zmarty_private.ops_samples enable row level security;
alter table zmarty_private.alerts enable row level security;
alter table zmarty_private.alert_notifications enable row level security;
revoke all on zmarty_private.ops_samples, zmarty_private.alerts, zmarty_private.alert_notifications from public, anon, authenticated, service_role;
