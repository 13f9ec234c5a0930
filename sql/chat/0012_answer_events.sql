-- Resume from any instance: the events of every answer (tokens, audio, errors,
-- done), written by the instance running it in batches (one statement per
-- flush for all its answers, never before the first token goes out), so a
-- client that reconnects to another instance gets the replay and then the
-- live tail. `n` orders one answer's rows (its events in the order they were
-- sent); a row of kind `tokens` holds consecutive chat:token deltas from seq
-- `event.from`. Rows live as long as an in-memory answer could be resumed:
-- the instances delete an answer two minutes after its `done` row, and any
-- row after an hour (an answer whose instance died never gets `done`).
create table zmarty_private.answer_events (
  user_id uuid not null,
  request_id text not null check (char_length(request_id) between 1 and 200),
  n integer not null check (n >= 0),
  kind text not null check (kind in ('tokens', 'audio', 'error', 'done')),
  event jsonb not null,
  -- chat:audio bytes (the event's `data`), kept out of the JSON.
  data bytea,
  created_at timestamptz not null default now(),
  primary key (user_id, request_id, n)
);
create index answer_events_done_idx on zmarty_private.answer_events (created_at) where kind = 'done';
create index answer_events_created_idx on zmarty_private.answer_events (created_at);
-- Internal: only the server, as the database owner, reads and writes it; no API role may.
alter table zmarty_private.answer_events enable row level security;
revoke all on table zmarty_private.answer_events from public, anon, authenticated, service_role;
