import type { Queryable } from '../../common/db';
import type { Conversation, StoredMessage } from '../../common/conversations';
import type { ChatStatus } from '../../common/events';

export type { Conversation, StoredMessage };

export interface AnswerRecord {
  userId: string;
  requestId: string;
  text: string;
  provider: string;
  model: string;
  status: ChatStatus;
  inputTokens: number;
  outputTokens: number;
  voiceCharacters: number;
  credits: number;
}

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

  /**
   * The newest `limit` messages for the prompt, in one statement with the
   * ownership check: no row at all means the conversation is not the user's
   * (or does not exist); one row with a null role means it has no message yet.
   */
  recent: async (q: Queryable, id: string, limit: number) =>
    (
      await q.query<{ requestId: string | null; role: 'user' | 'assistant' | null; content: string | null; id: number | null }>(
        `select m.id, m.request_id as "requestId", m.role, m.content
           from public.conversations c
           left join lateral (
             select id, request_id, role, content from public.messages where conversation_id = c.id order by id desc limit $2
           ) m on true
          where c.id = $1
          order by m.id`,
        [id, limit],
      )
    ).rows,
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

  /**
   * The answer beside its question (found by request id). Nothing is written
   * when the conversation was deleted while the answer ran, and a second
   * write of the same answer is a no-op.
   */
  recordAnswer: async (q: Queryable, a: AnswerRecord) =>
    (
      await q.query(
        `with answer as (
           insert into public.messages (conversation_id, user_id, request_id, role, content, provider, model, status,
                                        input_tokens, output_tokens, voice_characters, credits, completed_at)
           select conversation_id, user_id, request_id, 'assistant', $3, $4, $5, $6, $7, $8, $9, $10, now()
             from public.messages where user_id = $1 and request_id = $2 and role = 'user'
           on conflict (user_id, request_id, role) do nothing
           returning conversation_id
         )
         update public.conversations set updated_at = now() where id in (select conversation_id from answer)`,
        [a.userId, a.requestId, a.text, a.provider, a.model, a.status, a.inputTokens, a.outputTokens, a.voiceCharacters, a.credits],
      )
    ).rowCount ?? 0,
};
