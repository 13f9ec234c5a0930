-- Socket.IO between web instances (@socket.io/postgres-adapter): packets go
-- through NOTIFY on the chat database; one over NOTIFY's 8,000-byte limit or
-- holding binary data is stored here and its id sent instead. Internal: not in
-- the schema Supabase's Data API exposes, and no API role may touch it (the
-- server writes it as the database owner).
create table zmarty_private.socket_io_attachments (
  id bigserial unique,
  created_at timestamptz default now(),
  payload bytea
);
revoke all on table zmarty_private.socket_io_attachments from public, anon, authenticated, service_role;
