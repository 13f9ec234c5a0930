-- Shared rate-limit counters (rate-limiter-flexible's RateLimiterPostgres), so
-- that every server instance counts sign-in failures, sign-ups and chat
-- answers in one place. The library is built with tableCreated: true and never
-- runs DDL itself; this is the table it would create, column order included
-- (its upsert inserts positional VALUES (key, points, expire)).
--
-- A schema of its own, not public: on Supabase, default privileges give anon
-- and authenticated everything created in public, and the Data API exposes it.
-- Nobody but the owner (the server's connection) may read or write this.
create schema if not exists zmarty_private;
revoke all on schema zmarty_private from public, anon, authenticated;

create table zmarty_private.rate_limits (
  key varchar(255) primary key,
  points integer not null default 0,
  -- epoch milliseconds; null never expires
  expire bigint
);
revoke all on table zmarty_private.rate_limits from public, anon, authenticated, service_role;

-- The library's periodic cleanup deletes by expiry.
create index rate_limits_expire_idx on zmarty_private.rate_limits (expire);
