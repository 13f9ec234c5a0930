import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createMigratedDatabases } from '../../test/databases';
import { createAnswerPath, type BeginInput } from './answer-path.queries';

/**
 * A question starting in a conversation while an answer in the same
 * conversation finishes: both calls lock the user's profile and the
 * conversation, and must take them in the same order, or each waits for the
 * other until Postgres kills one (the question fails, or the answer is
 * charged but never stored).
 */
describe('a question starting while an answer in its conversation finishes', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let db: Db;

  beforeAll(async () => {
    databases = await createMigratedDatabases();
    db = createDb({ connectionString: databases.chatUrl, max: 4 });
  });
  afterAll(async () => {
    await db?.close();
    await databases?.drop();
  });

  /** Waits until a backend running `fn` waits on a lock. */
  const blockedIn = async (fn: string) => {
    for (let i = 0; ; i++) {
      const [row] = await db.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like $1 and pid <> pg_backend_pid()`,
        [`%zmarty_private.${fn}(%`],
      );
      if (row!.n > 0) return;
      if (i > 100) throw new Error(`${fn} never waited on a lock`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('lets both through once the conversation is free: the question is reserved and stored, the answer is stored beside its own question', async () => {
    const path = createAnswerPath({ chatDb: db });
    const userId = randomUUID();
    await db.query(`insert into auth.users (id, email) values ($1, $2)`, [userId, `${userId}@example.com`]);
    const { watchHash } = await path.facts(userId);
    const question = (requestId: string, conversationId?: string): BeginInput => ({
      userId,
      requestId,
      instanceId: 'test',
      limitKey: null,
      perMinute: 100,
      windowMs: 60_000,
      nowMs: Date.now(),
      conversationId,
      historyMessages: 10,
      watchHash,
      amount: 20,
      minAmount: 1,
      preview: requestId,
      message: `question ${requestId}`,
      title: 'locks',
    });

    const first = await path.begin(question('a'));
    expect(first.outcome).toBe('reserved');
    const conversationId = (first as Extract<typeof first, { outcome: 'reserved' }>).conversationId;

    // Someone else holds the conversation (a delete, another question): the second question queues behind it first,
    // then the first answer's finish arrives. Without one lock order, releasing the conversation deadlocks the two.
    const holder = await db.pool.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from public.conversations where id = $1 for update', [conversationId]);
      const second = path.begin(question('b', conversationId));
      second.catch(() => undefined);
      await blockedIn('begin_answer');
      const finished = path.finish({
        requestId: 'a',
        userId,
        cost: 7,
        provider: 'local',
        model: 'local-analyst',
        inputTokens: 10,
        outputTokens: 5,
        voiceCharacters: 0,
        estimated: false,
        text: 'answer a',
        status: 'complete',
      });
      finished.catch(() => undefined);
      await blockedIn('finish_answer');
      await holder.query('commit');

      expect(await second).toMatchObject({ outcome: 'reserved', conversationId });
      expect(await finished).toMatchObject({ charged: 7, answerFailure: null });
    } finally {
      holder.release();
    }
    const messages = await db.query<{ request_id: string; role: string; content: string }>(
      'select request_id, role, content from public.messages where conversation_id = $1 order by request_id, role desc',
      [conversationId],
    );
    expect(messages).toEqual([
      { request_id: 'a', role: 'user', content: 'question a' },
      { request_id: 'a', role: 'assistant', content: 'answer a' },
      { request_id: 'b', role: 'user', content: 'question b' },
    ]);
  });
});
