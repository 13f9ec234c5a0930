import { Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import { issueText, safeText } from '../../common/text';
import { readJson } from '../http/read-json';
import type { AuthedEnv } from '../http/types';
import { userConversationQueries } from './conversations.queries';
import { TITLE_MAX_CHARS } from './conversations.store';

const LIST_LIMIT = 200;
const MESSAGES_LIMIT = 500;

const renameSchema = z.object({
  title: safeText().trim().min(1, 'title is empty').max(TITLE_MAX_CHARS, `title is longer than ${TITLE_MAX_CHARS} characters`),
});

/** Anything that is not a conversation id cannot name one of the user's conversations. */
function conversationId(raw: string): string {
  const parsed = z.uuid().safeParse(raw);
  if (!parsed.success) throw new AppError('not_found', 'No such conversation');
  return parsed.data;
}

/**
 * The signed-in user's conversations: list, read (with its messages), rename,
 * delete. Every statement runs as the user: RLS, not this code, decides whose
 * rows are seen, so another user's conversation is simply `not_found`.
 */
export function createConversationRoutes(deps: { chatDb: Db }) {
  const app = new Hono<AuthedEnv>();
  const asUser = <T>(c: { var: AuthedEnv['Variables'] }, work: Parameters<Db['asUser']>[1]) => deps.chatDb.asUser(c.var.user.claims, work) as Promise<T>;

  app.get('/', async (c) => c.json({ conversations: await asUser(c, (q) => userConversationQueries.list(q, LIST_LIMIT)) }));

  app.get('/:id', async (c) => {
    const id = conversationId(c.req.param('id'));
    const found = await deps.chatDb.asUser(c.var.user.claims, async (q) => {
      const conversation = await userConversationQueries.get(q, id);
      return conversation && { conversation, messages: await userConversationQueries.messages(q, id, MESSAGES_LIMIT) };
    });
    if (!found) throw new AppError('not_found', 'No such conversation');
    return c.json(found);
  });

  app.patch('/:id', async (c) => {
    const id = conversationId(c.req.param('id'));
    const parsed = renameSchema.safeParse(await readJson(c.req.raw));
    if (!parsed.success) throw new AppError('validation_failed', issueText(parsed.error.issues[0], 'invalid title'));
    const renamed = await deps.chatDb.asUser(c.var.user.claims, (q) => userConversationQueries.rename(q, id, parsed.data.title));
    if (!renamed) throw new AppError('not_found', 'No such conversation');
    return c.json(renamed);
  });

  app.delete('/:id', async (c) => {
    const id = conversationId(c.req.param('id'));
    const removed = await deps.chatDb.asUser(c.var.user.claims, (q) => userConversationQueries.remove(q, id));
    if (!removed) throw new AppError('not_found', 'No such conversation');
    return c.body(null, 204);
  });

  return app;
}
