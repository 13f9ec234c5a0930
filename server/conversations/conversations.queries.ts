import type { Queryable } from '../../common/db';
import type { Conversation, StoredMessage } from '../../common/conversations';

export type { Conversation, StoredMessage };

const iso = (column: string) => `to_char(${column} at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const conversationColumns = `id, title, ${iso('created_at')} as "createdAt", ${iso('updated_at')} as "updatedAt"`;
const messageColumns = `id, request_id as "requestId", role, content, provider, model, status, input_tokens as "inputTokens",
  output_tokens as "outputTokens", voice_characters as "voiceCharacters", credits, ${iso('created_at')} as "createdAt",
  case when completed_at is null then null else ${iso('completed_at')} end as "completedAt"`;

/** What users do with their conversations: every function runs inside db.asUser, so RLS limits it to their own rows. */
export const userConversationQueries = {
  list: async (q: Queryable, limit: number) =>
    (await q.query<Conversation>(`select ${conversationColumns} from public.conversations order by updated_at desc, id limit $1`, [limit])).rows,

  get: async (q: Queryable, id: string) =>
    (await q.query<Conversation>(`select ${conversationColumns} from public.conversations where id = $1`, [id])).rows[0],

  /** The newest `limit` messages of a conversation, oldest first. */
  messages: async (q: Queryable, id: string, limit: number) =>
    (
      await q.query<StoredMessage>(
        `select * from (select ${messageColumns} from public.messages where conversation_id = $1 order by id desc limit $2) m order by id`,
        [id, limit],
      )
    ).rows,

  rename: async (q: Queryable, id: string, title: string) =>
    (await q.query<Conversation>(`update public.conversations set title = $2, updated_at = now() where id = $1 returning ${conversationColumns}`, [id, title]))
      .rows[0],

  remove: async (q: Queryable, id: string) => ((await q.query('delete from public.conversations where id = $1', [id])).rowCount ?? 0) > 0,
};

/** What the server writes, as the service role. */
export const serverConversationQueries = {
  /** A new conversation and its first question, in one statement. */
  startWithQuestion: async (q: Queryable, input: { userId: string; title: string; requestId: string; text: string }) =>
    (
      await q.query<{ conversationId: string }>(
        `with c as (insert into public.conversations (user_id, title) values ($1, $2) returning id)
         insert into public.messages (conversation_id, user_id, request_id, role, content)
         select c.id, $1, $3, 'user', $4 from c
         returning conversation_id as "conversationId"`,
        [input.userId, input.title, input.requestId, input.text],
      )
    ).rows[0]!.conversationId,

  /**
   * Appends a question to the user's own conversation. Ownership and the
   * append are one statement, and the update locks the conversation row, so
   * a delete running at the same time either comes first (no row: not found)
   * or waits for this one and takes the new message with it.
   */
  appendQuestion: async (q: Queryable, input: { userId: string; conversationId: string; requestId: string; text: string }) =>
    (
      await q.query<{ conversationId: string }>(
        `with c as (update public.conversations set updated_at = now() where id = $1 and user_id = $2 returning id)
         insert into public.messages (conversation_id, user_id, request_id, role, content)
         select c.id, $2, $3, 'user', $4 from c
         returning conversation_id as "conversationId"`,
        [input.conversationId, input.userId, input.requestId, input.text],
      )
    ).rows[0]?.conversationId,
};
