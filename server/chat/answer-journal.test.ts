import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createLogger } from '../../common/logger';
import { createMigratedDatabases } from '../../test/databases';
import { createAnswerJournal } from './answer-journal';

/**
 * The journal an answer's events are written to, so any instance can replay
 * them: in batches (consecutive tokens share a row), in order, retried after
 * a failed write, and gone two minutes after the answer's done.
 */
describe('answer journal', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let db: Db;
  const log = createLogger({ level: 'silent' });
  const rowsOf = (requestId: string) =>
    db.query<{ n: number; kind: string; event: Record<string, unknown>; data: Buffer | null }>(
      'select n, kind, event, data from zmarty_private.answer_events where request_id = $1 order by n',
      [requestId],
    );
  const newUser = async () => {
    const id = randomUUID();
    await db.query(`insert into auth.users (id, email) values ($1, $2)`, [id, `${id}@example.com`]);
    return id;
  };

  beforeAll(async () => {
    databases = await createMigratedDatabases();
    db = createDb({ connectionString: databases.chatUrl, max: 2 });
  });
  afterAll(async () => {
    await db.close();
    await databases.drop();
  });

  it('writes nothing until a flush, then every answer in one statement: consecutive tokens in one row, other events in order', async () => {
    const journal = createAnswerJournal({ chatDb: db, log });
    const user = await newUser();
    const [a, b] = [randomUUID(), randomUUID()];
    for (let seq = 0; seq < 3; seq++) journal.token(user, a, { id: a, delta: `a${seq} `, seq });
    journal.token(user, b, { id: b, delta: 'b0', seq: 0 });
    journal.audio(user, a, { id: a, seq: 0, mime: 'audio/mpeg', data: new Uint8Array([1, 2, 3]) });
    journal.token(user, a, { id: a, delta: 'a3', seq: 3 });
    journal.error(user, a, { id: a, code: 'voice_unavailable', message: 'no voice' });
    expect(await rowsOf(a)).toEqual([]);

    await journal.flush();
    expect(journal.stats()).toMatchObject({ flushes: 1, rows: 5 });
    const rows = await rowsOf(a);
    expect(rows.map((r) => [r.n, r.kind])).toEqual([
      [0, 'tokens'],
      [1, 'audio'],
      [2, 'tokens'],
      [3, 'error'],
    ]);
    expect(rows[0]!.event).toEqual({ from: 0, deltas: ['a0 ', 'a1 ', 'a2 '] });
    expect(rows[1]!.event).toEqual({ id: a, seq: 0, mime: 'audio/mpeg' });
    expect([...rows[1]!.data!]).toEqual([1, 2, 3]);
    expect(rows[2]!.event).toEqual({ from: 3, deltas: ['a3'] });
    expect((await rowsOf(b)).map((r) => r.event)).toEqual([{ from: 0, deltas: ['b0'] }]);
  });

  it('stores deltas and audio bytes exactly, whatever characters and bytes they hold', async () => {
    const journal = createAnswerJournal({ chatDb: db, log });
    const user = await newUser();
    const id = randomUUID();
    const deltas = ['say "long" ', 'C:\\path\\ ', '{"a":[1]}', '\n\t', '📈 BTC ≥ 100 000 $', "l'été", ''];
    deltas.forEach((delta, seq) => journal.token(user, id, { id, delta, seq }));
    const bytes = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
    // A view into a larger buffer: only its own bytes are stored.
    const view = new Uint8Array(new Uint8Array(600).fill(7).buffer, 40, 512);
    view.set(bytes);
    journal.audio(user, id, { id, seq: 0, mime: 'audio/mpeg', data: view });
    await journal.flush();
    const rows = await rowsOf(id);
    expect(rows[0]!.event).toEqual({ from: 0, deltas });
    expect(rows[1]!.data!.equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps what a failed write held and writes it, in order, at the next flush', async () => {
    const user = await newUser();
    const id = randomUUID();
    let failing = true;
    const flaky: Db = { ...db, query: (text, values) => (failing ? Promise.reject(new Error('connection lost')) : db.query(text, values)) };
    const journal = createAnswerJournal({ chatDb: flaky, log });
    journal.token(user, id, { id, delta: 'one ', seq: 0 });
    await journal.flush();
    expect(journal.stats()).toMatchObject({ failures: 1, buffered: 1 });
    journal.token(user, id, { id, delta: 'two', seq: 1 });
    failing = false;
    await journal.flush();
    expect((await rowsOf(id)).map((r) => r.event)).toEqual([
      { from: 0, deltas: ['one '] },
      { from: 1, deltas: ['two'] },
    ]);
  });

  it('deletes an answer two minutes after its done, and leaves one still streaming', async () => {
    const journal = createAnswerJournal({ chatDb: db, log });
    const user = await newUser();
    const [finished, streaming] = [randomUUID(), randomUUID()];
    journal.token(user, finished, { id: finished, delta: 'x', seq: 0 });
    journal.done(user, finished, { id: finished, provider: 'xai', model: 'm', usage: { inputTokens: 1, outputTokens: 1, voiceCharacters: 0, estimated: false }, credits: { charged: 1, balance: 9 }, status: 'complete', conversationId: randomUUID() });
    journal.token(user, streaming, { id: streaming, delta: 'y', seq: 0 });
    await journal.flush();
    await db.query(`update zmarty_private.answer_events set created_at = now() - interval '3 minutes' where user_id = $1`, [user]);
    await journal.cleanup();
    expect(await rowsOf(finished)).toEqual([]);
    expect(await rowsOf(streaming)).toHaveLength(1);
  });
});
