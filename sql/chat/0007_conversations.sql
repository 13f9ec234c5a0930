-- Conversations and their messages, so an answer can remember the turns
-- before it and every tab and device shows the same history.
--
-- Users read, rename and delete their own conversations (RLS); messages are
-- written only by the server, as the service role: the user's question when
-- the answer is accepted (credits reserved), the answer when it is settled.
-- One row per (user, request id, role): a retried request never writes a turn twice.

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  title text not null check (char_length(title) between 1 and 120),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index conversations_user_updated_idx on public.conversations (user_id, updated_at desc, id);

create table public.messages (
  id bigint generated always as identity primary key,
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  request_id text not null check (char_length(request_id) between 1 and 200),
  role text not null check (role in ('user', 'assistant')),
  content text not null check (char_length(content) <= 100000),
  -- Answers only: who answered, how it ended, what it cost.
  provider text,
  model text,
  status text check (status in ('complete', 'aborted', 'incomplete')),
  input_tokens integer check (input_tokens >= 0),
  output_tokens integer check (output_tokens >= 0),
  voice_characters integer check (voice_characters >= 0),
  credits integer check (credits >= 0),
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  unique (user_id, request_id, role),
  check ((role = 'assistant') = (status is not null))
);
create index messages_conversation_idx on public.messages (conversation_id, id);

alter table public.conversations enable row level security;
alter table public.messages enable row level security;

create policy conversations_select_own on public.conversations for select to authenticated using (user_id = auth.uid());
create policy conversations_update_own on public.conversations for update to authenticated
  using (user_id = auth.uid()) with check (user_id = auth.uid());
create policy conversations_delete_own on public.conversations for delete to authenticated using (user_id = auth.uid());
create policy messages_select_own on public.messages for select to authenticated using (user_id = auth.uid());

-- Supabase's default privileges give anon and authenticated ALL on new public
-- tables: take them back, then grant only what the policies above serve.
-- Deleting a conversation removes its messages by the foreign key's cascade,
-- which runs as the table owner: users need no delete right on messages.
revoke all on public.conversations, public.messages from public, anon, authenticated;
grant select, delete on public.conversations to authenticated;
grant update (title, updated_at) on public.conversations to authenticated;
grant select on public.messages to authenticated;
grant select, insert, update, delete on public.conversations, public.messages to service_role;
