-- Trading database (Supabase B): what the pipeline reads and writes.

create table public.watchers (
  id bigint generated always as identity primary key,
  symbol text not null check (symbol ~ '^[A-Z0-9]{2,15}/[A-Z0-9]{2,10}$'),
  timeframe text not null check (timeframe in ('1m', '5m', '15m', '1h', '4h', '1d')),
  subscribers integer not null default 0 check (subscribers >= 0),
  active boolean generated always as (subscribers > 0) stored,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (symbol, timeframe)
);
create index watchers_active_idx on public.watchers (symbol, timeframe) where active;

-- Which chat-database rows a watcher counts, so that a replayed or reordered
-- webhook event can never count a subscription twice.
create table public.watcher_subscriptions (
  source_id bigint primary key,
  user_id uuid not null,
  symbol text not null,
  timeframe text not null,
  updated_at timestamptz not null default now()
);

-- Replay protection for the watchers-upsert function.
create table public.webhook_events (
  event_id text primary key check (char_length(event_id) between 1 and 200),
  received_at timestamptz not null default now()
);

create table public.candles (
  symbol text not null,
  timeframe text not null,
  open_time timestamptz not null,
  open double precision not null check (open > 0),
  high double precision not null check (high > 0),
  low double precision not null check (low > 0),
  close double precision not null check (close > 0),
  volume double precision not null check (volume >= 0),
  source text not null,
  primary key (symbol, timeframe, open_time),
  check (high >= greatest(open, close, low) and low <= least(open, close))
);

create table public.indicators (
  symbol text not null,
  timeframe text not null,
  candle_time timestamptz not null,
  values jsonb not null,
  computed_at timestamptz not null default now(),
  primary key (symbol, timeframe, candle_time)
);

create table public.risk_metric (
  symbol text not null,
  timeframe text not null,
  candle_time timestamptz not null,
  realized_vol double precision not null,
  atr_pct double precision not null,
  drawdown_pct double precision not null,
  volume_z double precision not null,
  regime text not null check (regime in ('low', 'normal', 'high', 'extreme')),
  computed_at timestamptz not null default now(),
  primary key (symbol, timeframe, candle_time)
);

create table public.liq_clusters (
  id bigint generated always as identity primary key,
  symbol text not null,
  timeframe text not null,
  candle_time timestamptz not null,
  source text not null check (source in ('kingfisher', 'estimated')),
  side text not null check (side in ('long', 'short')),
  price_low double precision not null,
  price_high double precision not null,
  strength double precision not null check (strength >= 0 and strength <= 1),
  computed_at timestamptz not null default now(),
  check (price_low <= price_high)
);
create index liq_clusters_latest_idx on public.liq_clusters (symbol, timeframe, candle_time desc);

create table public.signals (
  id bigint generated always as identity primary key,
  symbol text not null,
  timeframe text not null,
  candle_time timestamptz not null,
  direction text not null check (direction in ('long', 'short', 'flat')),
  score integer not null check (score between 0 and 100),
  entry double precision not null,
  stop double precision,
  take_profit double precision,
  reasons jsonb not null default '[]'::jsonb,
  doubling jsonb,
  created_at timestamptz not null default now(),
  unique (symbol, timeframe, candle_time)
);
-- "latest signal per symbol" and "signals since id" (id is the primary key).
create index signals_latest_idx on public.signals (symbol, timeframe, candle_time desc);

create table public.signal_outcomes (
  signal_id bigint primary key references public.signals (id) on delete cascade,
  outcome text not null check (outcome in ('win', 'loss')),
  exit_reason text not null check (exit_reason in ('take_profit', 'stop', 'horizon')),
  return_pct double precision not null,
  exit_time timestamptz not null,
  evaluated_at timestamptz not null default now()
);

create table public.win_rate (
  symbol text not null,
  timeframe text not null,
  window_name text not null check (window_name in ('7d', '30d', 'all')),
  trades integer not null,
  wins integer not null,
  losses integer not null,
  win_pct double precision,
  avg_win_pct double precision,
  avg_loss_pct double precision,
  profit_factor double precision,
  expectancy_pct double precision,
  buy_hold_pct double precision,
  computed_at timestamptz not null default now(),
  primary key (symbol, timeframe, window_name)
);

-- Trading data is service-side; RLS on with no policies keeps the anon and
-- authenticated roles out when this database is a Supabase project.
alter table public.watchers enable row level security;
alter table public.watcher_subscriptions enable row level security;
alter table public.webhook_events enable row level security;
alter table public.candles enable row level security;
alter table public.indicators enable row level security;
alter table public.risk_metric enable row level security;
alter table public.liq_clusters enable row level security;
alter table public.signals enable row level security;
alter table public.signal_outcomes enable row level security;
alter table public.win_rate enable row level security;
