-- A market provider that answered "too many requests" (HTTP 429, or Binance's
-- 418: banned for ignoring 429s) is left alone by every worker process until
-- `until` (pipeline/market/market-pauses.ts). Shared here rather than in one
-- process's memory: the other workers calling on is how a 429 becomes a ban.
-- One row per provider; a pause is only ever extended, never shortened, by a
-- later throttle. Deleting the row lifts it (within a second for each worker
-- that was not itself throttled).
create table public.market_pauses (
  source text primary key,
  until timestamptz not null,
  reason text not null
);
alter table public.market_pauses enable row level security;

-- As sql/trading/0006: the Data API roles get nothing on the new table.
do $$
declare
  grantee text;
begin
  for grantee in
    select 'public' union all
    select quote_ident(rolname) from pg_roles where rolname in ('anon', 'authenticated', 'service_role')
  loop
    execute format('revoke all on table public.market_pauses from %s', grantee);
  end loop;
end
$$;
