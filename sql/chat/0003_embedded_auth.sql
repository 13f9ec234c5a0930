-- Sessions for the embedded GoTrue-compatible server (used only when no
-- SUPABASE_URL is configured; on Supabase this schema stays empty).
create schema if not exists auth_local;
revoke all on schema auth_local from public;

create table auth_local.sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);

-- Refresh tokens rotate: each use revokes the presented token and issues a
-- child. Only a hash is stored. Reuse of a revoked token revokes the session.
create table auth_local.refresh_tokens (
  id bigint generated always as identity primary key,
  token_hash text not null unique,
  session_id uuid not null references auth_local.sessions (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  parent_id bigint references auth_local.refresh_tokens (id),
  revoked boolean not null default false,
  created_at timestamptz not null default now()
);
create index refresh_tokens_session_idx on auth_local.refresh_tokens (session_id);
