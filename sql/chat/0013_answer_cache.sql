-- Answer cache (README "Answer cache"): an answer to a question about the
-- market, kept under the hash of the normalised question and of the market
-- context it was answered from, so any instance answers the same question on
-- the same data from here until the data changes (a new candle changes the
-- context, hence the key) or the entry expires. Shared by all instances, hence
-- a table rather than process memory. Internal: not in the schema Supabase's
-- Data API exposes, and no API role may touch it (the server uses it as the
-- database owner). It holds no user data: cached answers come from prompts
-- without the user's account facts or conversation.
create table zmarty_private.answer_cache (
  key text primary key,
  answer text not null,
  -- The provider and model that wrote the answer (the charge names 'cache').
  provider text not null,
  model text not null,
  output_tokens integer not null check (output_tokens >= 0),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index answer_cache_expires_idx on zmarty_private.answer_cache (expires_at);
revoke all on table zmarty_private.answer_cache from public, anon, authenticated, service_role;
