import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import type { ChatMessage } from '../context';
import { serverConversationQueries } from './conversations.queries';

export const TITLE_MAX_CHARS = 120;
const TITLE_FROM_QUESTION_CHARS = 60;

/** A new conversation is titled after its first question: its first line, cut at a word near 60 characters. */
export function titleFromQuestion(question: string): string {
  const line = question.trim().split(/\r?\n/)[0]!.replace(/\s+/g, ' ').trim();
  if (line.length <= TITLE_FROM_QUESTION_CHARS) return line || 'New conversation';
  const cut = line.slice(0, TITLE_FROM_QUESTION_CHARS);
  const space = cut.lastIndexOf(' ');
  return `${(space > 30 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/**
 * Earlier turns for the prompt: whole question/answer pairs only (a question
 * whose answer failed, was empty or is still running is left out, so the
 * model never sees two questions in a row), at most `maxMessages`, newest kept.
 */
export function turnsForPrompt(rows: Array<{ requestId: string | null; role: 'user' | 'assistant' | null; content: string | null }>, maxMessages: number): ChatMessage[] {
  const turns: ChatMessage[] = [];
  for (let i = 0; i < rows.length - 1; i++) {
    const question = rows[i]!;
    const answer = rows[i + 1]!;
    if (question.role !== 'user' || answer.role !== 'assistant' || question.requestId !== answer.requestId || !answer.content?.trim()) continue;
    turns.push({ role: 'user', content: question.content ?? '' }, { role: 'assistant', content: answer.content });
    i++;
  }
  return turns.slice(-Math.max(0, maxMessages - (maxMessages % 2)));
}

/**
 * The chat service's side of conversations outside an answer's own calls:
 * the question of an answer reserved on its own (a cached answer re-reserved
 * at the cache price). The prompt's history, the usual question and the
 * answer are read and written inside begin_answer / finish_answer
 * (server/chat/answer-path.queries.ts).
 */
export function createConversations(deps: { chatDb: Db }) {
  return {
    /** Writes the question of an accepted answer: into a new conversation, or appended to the user's own. */
    async recordQuestion(input: { userId: string; conversationId?: string; requestId: string; text: string }): Promise<string> {
      const { conversationId } = input;
      if (conversationId === undefined) {
        return deps.chatDb.asServiceRole((q) => serverConversationQueries.startWithQuestion(q, { ...input, title: titleFromQuestion(input.text) }));
      }
      const appended = await deps.chatDb.asServiceRole((q) => serverConversationQueries.appendQuestion(q, { ...input, conversationId }));
      if (!appended) throw new AppError('not_found', 'No such conversation (was it deleted?)');
      return appended;
    },
  };
}

export type Conversations = ReturnType<typeof createConversations>;
