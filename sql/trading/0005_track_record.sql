-- The honest track record (issue 9): a walk-forward simulation of a trader
-- following the signals (pipeline/track-record) replaces the per-signal win
-- rate, which counted every repeated signal as a trade (~5× its real sample).

-- The decision the strategy took, walk-forward, at each candle of the history
-- loaded when a pair was added (pipeline/backtest/signal-series.ts). Kept out
-- of public.signals on purpose: those rows are pushed to traders as they are
-- inserted, and the history is not news. Live signals win over these.
create table public.history_decisions (
  symbol text not null,
  timeframe text not null,
  candle_time timestamptz not null,
  direction text not null check (direction in ('long', 'short', 'flat')),
  score integer not null check (score between 0 and 100),
  stop double precision,
  take_profit double precision,
  primary key (symbol, timeframe, candle_time)
);

-- One rollup per pair, timeframe and window ('7d', '30d', 'all'): the strategy
-- against buy-and-hold and the coin flip over the same candles.
create table public.track_record (
  symbol text not null,
  timeframe text not null,
  window_name text not null check (window_name in ('7d', '30d', 'all')),
  from_time timestamptz not null,
  to_time timestamptz not null,
  candles integer not null check (candles >= 0),
  trades integer not null check (trades >= 0),
  wins integer not null check (wins >= 0 and wins <= trades),
  win_rate double precision,
  win_rate_low double precision,
  win_rate_high double precision,
  profit_factor double precision,
  expectancy_pct double precision,
  max_drawdown_pct double precision not null,
  total_return_pct double precision not null,
  buy_hold_return_pct double precision not null,
  coin_flip_draws integer not null check (coin_flip_draws > 0),
  coin_flip_seed bigint not null,
  coin_flip_median_pct double precision,
  coin_flip_p5_pct double precision,
  coin_flip_p95_pct double precision,
  coin_flip_percentile double precision check (coin_flip_percentile between 0 and 100),
  edge text not null check (edge in ('positive', 'none', 'negative')),
  -- [[open time ms, strategy equity, buy-and-hold equity], …], at most ~120 points, for the card's curve.
  equity jsonb not null default '[]'::jsonb,
  computed_at timestamptz not null default now(),
  primary key (symbol, timeframe, window_name)
);

-- The edge of the pair and timeframe when the signal was made (common/edge.ts
-- EdgeFacts), null when no track record existed yet.
alter table public.signals add column edge jsonb;

drop table public.win_rate;
drop table public.signal_outcomes;

alter table public.history_decisions enable row level security;
alter table public.track_record enable row level security;
