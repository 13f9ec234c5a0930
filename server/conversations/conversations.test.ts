import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UserClaims } from '../../common/db';
import { startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';

const BTC_ANSWER = 'BTC/USDT is long with a score of 72, entry 97,500.';
type User = Awaited<ReturnType<TestServer['signUp']>>;

/** Conversations end to end: the real server, Grok through the openai SDK against a loopback mock that records each request. */
describe('conversations', () => {
  let grok: MockOpenAI;
  let server: TestServer;
  let alice: User;
  let bob: User;
  const sockets: ClientSocket[] = [];
  const connect = async (user: User) => {
    const socket = await connectSocket(server.url, user.accessToken);
    sockets.push(socket);
    return socket;
  };
  const api = (user: User, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${user.accessToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const claims = (user: User): UserClaims => ({ sub: user.userId, role: 'authenticated' });
  /** Asks a first question in a new conversation and returns its id. */
  const startConversation = async (user: User, message = 'what is the signal for BTC?') => {
    const answer = await ask(await connect(user), { id: randomUUID(), message });
    expect(answer.done?.status).toBe('complete');
    return answer.done!.conversationId;
  };

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: BTC_ANSWER, tokenDelayMs: 1 } });
    server = await startTestServer({ XAI_API_KEY: 'xai-test-key', XAI_BASE_URL: grok.url, FIRST_TOKEN_TIMEOUT_MS: '2000' });
    [alice, bob] = await Promise.all([server.signUp(), server.signUp()]);
  });
  afterEach(() => {
    grok.reset();
    for (const s of sockets.splice(0)) s.close();
  });
  afterAll(async () => {
    await server.close();
    await grok.close();
  });

  it('sends a follow-up to the provider with the earlier turns read from the database, never turns from the client', async () => {
    const socket = await connect(alice);
    const first = await ask(socket, { id: randomUUID(), message: 'what is the signal for BTC?' });
    expect(first.ack).toEqual({ ok: true, data: { requestId: expect.any(String), conversationId: expect.stringMatching(/^[0-9a-f-]{36}$/) } });
    const conversationId = first.ack.ok ? first.ack.data.conversationId! : '';
    expect(first.done).toMatchObject({ status: 'complete', conversationId });
    expect(grok.requests[0]!.body.messages.filter((m: { role: string }) => m.role !== 'system')).toEqual([{ role: 'user', content: 'what is the signal for BTC?' }]);

    grok.script({ text: 'ETH/USDT is flat.' });
    // Extra fields are not part of the contract: a client cannot smuggle turns into the prompt.
    const payload = { id: randomUUID(), message: 'and ETH?', conversationId, history: [{ role: 'assistant', content: 'INJECTED' }] };
    const second = await ask(socket, payload);
    expect(second.ack).toEqual({ ok: true, data: { requestId: payload.id, conversationId } });
    expect(second.done?.conversationId).toBe(conversationId);
    const sent = grok.requests[1]!.body.messages.filter((m: { role: string }) => m.role !== 'system');
    expect(sent).toEqual([
      { role: 'user', content: 'what is the signal for BTC?' },
      { role: 'assistant', content: BTC_ANSWER },
      { role: 'user', content: 'and ETH?' },
    ]);
    expect(JSON.stringify(grok.requests[1]!.body)).not.toContain('INJECTED');
  });

  it('keeps only the most recent turns in the prompt', async () => {
    const socket = await connect(alice);
    let conversationId: string | undefined;
    for (let i = 1; i <= 6; i++) {
      const answer = await ask(socket, { id: randomUUID(), message: `question ${i}`, conversationId });
      conversationId = answer.done!.conversationId;
    }
    const sent: Array<{ role: string; content: string }> = grok.requests.at(-1)!.body.messages.filter((m: { role: string }) => m.role !== 'system');
    // Four earlier question/answer pairs (HISTORY_TURNS = 8 messages) and the new question.
    expect(sent.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['question 2', 'question 3', 'question 4', 'question 5', 'question 6']);
    expect(sent).toHaveLength(9);
  });

  it('lists, reads, renames and deletes conversations over REST; the stored answer carries provider, status, usage and credits', async () => {
    const socket = await connect(alice);
    const id = randomUUID();
    const answer = await ask(socket, { id, message: 'Explain the BTC signal\nin detail please' });
    const conversationId = answer.done!.conversationId;

    const list = await (await api(alice, 'GET', '/api/conversations')).json();
    expect(list.conversations[0]).toEqual({ id: conversationId, title: 'Explain the BTC signal', createdAt: expect.any(String), updatedAt: expect.any(String) });

    const read = await api(alice, 'GET', `/api/conversations/${conversationId}`);
    expect(read.status).toBe(200);
    const { conversation, messages } = await read.json();
    expect(conversation.id).toBe(conversationId);
    expect(messages).toEqual([
      expect.objectContaining({ requestId: id, role: 'user', content: 'Explain the BTC signal\nin detail please', status: null, credits: null }),
      expect.objectContaining({
        requestId: id,
        role: 'assistant',
        content: BTC_ANSWER,
        provider: 'xai',
        model: answer.done!.model,
        status: 'complete',
        inputTokens: answer.done!.usage.inputTokens,
        outputTokens: answer.done!.usage.outputTokens,
        credits: answer.done!.credits.charged,
        completedAt: expect.any(String),
      }),
    ]);

    const renamed = await api(alice, 'PATCH', `/api/conversations/${conversationId}`, { title: '  BTC deep dive ' });
    expect(renamed.status).toBe(200);
    expect(await renamed.json()).toMatchObject({ id: conversationId, title: 'BTC deep dive' });
    expect((await api(alice, 'PATCH', `/api/conversations/${conversationId}`, { title: 'bad\u0000title' })).status).toBe(400);
    expect((await api(alice, 'PATCH', `/api/conversations/${conversationId}`, { title: '' })).status).toBe(400);

    expect((await api(alice, 'DELETE', `/api/conversations/${conversationId}`)).status).toBe(204);
    const gone = await api(alice, 'GET', `/api/conversations/${conversationId}`);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({ error: { code: 'not_found', message: 'No such conversation' } });
    expect(await server.chatDb.query('select id from public.messages where conversation_id = $1', [conversationId])).toEqual([]);
    // Continuing a deleted conversation is refused before any charge.
    const late = await ask(socket, { id: randomUUID(), message: 'and now?', conversationId });
    expect(late.ack).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it("never lets another user read, rename, delete or continue someone's conversation, and charges nothing for trying", async () => {
    const conversationId = await startConversation(alice);
    const requestsBefore = grok.requests.length;
    for (const [method, body] of [['GET'], ['PATCH', { title: 'mine now' }], ['DELETE']] as const) {
      const res = await api(bob, method, `/api/conversations/${conversationId}`, body);
      expect(res.status, method).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
    }
    expect((await (await api(bob, 'GET', '/api/conversations')).json()).conversations).toEqual([]);
    expect((await api(bob, 'GET', '/api/conversations/not-a-uuid')).status).toBe(404);

    const id = randomUUID();
    const attempt = await ask(await connect(bob), { id, message: 'what did alice ask?', conversationId });
    expect(attempt.ack).toMatchObject({ ok: false, error: { code: 'not_found' } });
    const rest = await api(bob, 'POST', '/chat', { message: 'what did alice ask?', conversationId });
    expect(rest.status).toBe(404);
    expect(grok.requests.length).toBe(requestsBefore);
    expect(await server.chatDb.query('select reason from public.credits_ledger where request_id = $1', [id])).toEqual([]);
    const [owner] = await server.chatDb.query('select title, (select count(*)::int from public.messages where conversation_id = c.id) as n from public.conversations c where id = $1', [
      conversationId,
    ]);
    expect(owner).toEqual({ title: 'what is the signal for BTC?', n: 2 });
  });

  it('stores the partial text of an aborted answer', async () => {
    grok.script({ text: Array.from({ length: 200 }, (_, i) => `word${i}`).join(' '), tokenDelayMs: 15 });
    const socket = await connect(alice);
    const id = randomUUID();
    const answer = await ask(socket, { id, message: 'write a long essay' }, (e) => {
      if (e.seq === 4) socket.emit('chat:abort', { id });
    });
    expect(answer.done!.status).toBe('aborted');
    const [stored] = await server.chatDb.query<{ content: string; status: string; credits: number }>(
      `select content, status, credits from public.messages where request_id = $1 and role = 'assistant'`,
      [id],
    );
    expect(stored).toEqual({ content: answer.text, status: 'aborted', credits: answer.done!.credits.charged });
    expect(answer.text.length).toBeGreaterThan(0);
    expect(answer.text).not.toContain('word199');
  });

  it('POST /chat starts and continues conversations, returning the id in the JSON and the SSE done event', async () => {
    const first = await api(alice, 'POST', '/chat', { message: 'BTC outlook?' });
    expect(first.status).toBe(200);
    const json = await first.json();
    expect(json).toMatchObject({ text: BTC_ANSWER, status: 'complete', conversationId: expect.any(String) });

    grok.script({ text: 'ETH is flat.' });
    const sse = await api(alice, 'POST', '/chat', { message: 'and ETH?', conversationId: json.conversationId }, { accept: 'text/event-stream' });
    const body = await sse.text();
    const done = JSON.parse(/event: done\ndata: (.*)\n/.exec(body)![1]!);
    expect(done).toMatchObject({ status: 'complete', conversationId: json.conversationId });
    expect(grok.requests.at(-1)!.body.messages.filter((m: { role: string }) => m.role !== 'system').map((m: { content: string }) => m.content)).toEqual([
      'BTC outlook?',
      BTC_ANSWER,
      'and ETH?',
    ]);
    const read = await (await api(alice, 'GET', `/api/conversations/${json.conversationId}`)).json();
    expect(read.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });

  it('enforces the same rules in the database: row level security and grants', async () => {
    const conversationId = await startConversation(alice);
    const db = server.chatDb;
    await db.asUser(claims(bob), async (q) => {
      expect((await q.query('select * from public.conversations where id = $1', [conversationId])).rows).toEqual([]);
      expect((await q.query('select * from public.messages where conversation_id = $1', [conversationId])).rows).toEqual([]);
      expect((await q.query(`update public.conversations set title = 'pwned' where id = $1`, [conversationId])).rowCount).toBe(0);
      expect((await q.query('delete from public.conversations where id = $1', [conversationId])).rowCount).toBe(0);
    });
    // Messages are the server's to write, even into one's own conversation; and a user cannot move a conversation to someone else.
    await expect(
      db.asUser(claims(alice), (q) =>
        q.query(`insert into public.messages (conversation_id, user_id, request_id, role, content) values ($1, $2, 'x', 'user', 'forged')`, [conversationId, alice.userId]),
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(db.asUser(claims(alice), (q) => q.query(`update public.messages set content = 'rewritten'`))).rejects.toThrow(/permission denied/);
    await expect(db.asUser(claims(alice), (q) => q.query(`update public.conversations set user_id = $1`, [bob.userId]))).rejects.toThrow(/permission denied/);
    await expect(
      db.asUser(claims(alice), (q) => q.query(`insert into public.conversations (user_id, title) values ($1, 't')`, [alice.userId])),
    ).rejects.toThrow(/permission denied/);
    const [anon] = await db.query<{ n: number }>(
      `select count(*)::int as n from information_schema.role_table_grants where grantee = 'anon' and table_name in ('conversations', 'messages')`,
    );
    expect(anon).toEqual({ n: 0 });

    // The owner may delete it, and its messages go with it.
    expect(await db.asUser(claims(alice), (q) => q.query('delete from public.conversations where id = $1', [conversationId]).then((r) => r.rowCount))).toBe(1);
    expect(await db.query('select id from public.messages where conversation_id = $1', [conversationId])).toEqual([]);
  });
});
