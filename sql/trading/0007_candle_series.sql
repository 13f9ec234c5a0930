-- How many candles each series (symbol, timeframe) holds (`total`), and how
-- many were ever inserted or deleted (`version`), kept by the database itself:
-- the steady ingest checks that a worker's cached window is still what is
-- stored by comparing one number (a primary-key probe) instead of counting the
-- ~1,000 candles of the window (an index range scan with heap visits on
-- freshly written pages, every cycle, for every watcher). Equal versions mean
-- nothing was stored in or removed from the series in between (no other
-- worker's append, no gap fill). Candles are only ever added today, so version
-- = total; the version still holds should candles ever be deleted, where a
-- total could come back to an old value (one deleted, one added).
create table public.candle_series (
  symbol text not null,
  timeframe text not null,
  total bigint not null check (total >= 0),
  version bigint not null check (version >= total),
  primary key (symbol, timeframe)
);
alter table public.candle_series enable row level security;

-- Statement-level with transition tables: one upsert per series per
-- statement, so a batch of 50 watchers costs 50 counter updates, not one per
-- candle. Rows skipped by ON CONFLICT DO NOTHING are not in new_rows. Series
-- in key order so that two statements updating the same counters lock them in
-- the same order (no deadlock between two workers' batches).
create function public.candle_series_count_inserted() returns trigger language plpgsql as $$
begin
  insert into public.candle_series as s (symbol, timeframe, total, version)
  select symbol, timeframe, count(*), count(*) from new_rows group by symbol, timeframe order by symbol, timeframe
  on conflict (symbol, timeframe) do update set total = s.total + excluded.total, version = s.version + excluded.version;
  return null;
end $$;
create trigger candles_count_inserted after insert on public.candles
  referencing new table as new_rows for each statement execute function public.candle_series_count_inserted();

-- Nothing deletes candles today; should a retention job ever do so, the totals stay exact.
create function public.candle_series_count_deleted() returns trigger language plpgsql as $$
begin
  update public.candle_series s set total = s.total - d.n, version = s.version + d.n
  from (select symbol, timeframe, count(*) as n from old_rows group by symbol, timeframe order by symbol, timeframe) d
  where s.symbol = d.symbol and s.timeframe = d.timeframe;
  return null;
end $$;
create trigger candles_count_deleted after delete on public.candles
  referencing old table as old_rows for each statement execute function public.candle_series_count_deleted();

-- Versions go on from where they were (a row deleted here and recreated at 1 could meet an old copy's number).
create function public.candle_series_truncated() returns trigger language plpgsql as $$
begin
  update public.candle_series set version = version + total, total = 0 where total > 0;
  return null;
end $$;
create trigger candles_truncated after truncate on public.candles
  for each statement execute function public.candle_series_truncated();

-- Backfill with writers held off (a worker may be running while this migrates):
-- the count and the trigger then start from the same state.
lock table public.candles in share row exclusive mode;
insert into public.candle_series (symbol, timeframe, total, version)
select symbol, timeframe, count(*), count(*) from public.candles group by symbol, timeframe;

-- As sql/trading/0006: the Data API roles get nothing on the new objects.
do $$
declare
  grantee text;
begin
  for grantee in
    select 'public' union all
    select quote_ident(rolname) from pg_roles where rolname in ('anon', 'authenticated', 'service_role')
  loop
    execute format('revoke all on table public.candle_series from %s', grantee);
    execute format('revoke all on function public.candle_series_count_inserted() from %s', grantee);
    execute format('revoke all on function public.candle_series_count_deleted() from %s', grantee);
    execute format('revoke all on function public.candle_series_truncated() from %s', grantee);
  end loop;
end
$$;
