import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ack, ChatDoneEvent, ChatErrorEvent, ChatTokenEvent } from '../../common/events';
import { startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';
import { createLedger } from '../credits/ledger';

// Forty word tokens 30 ms apart: about 1.2 s of streaming, long enough to move to the other instance mid-answer.
const WORDS = Array.from({ length: 40 }, (_, i) => `w${i}`);
const SLOW_ANSWER = { text: WORDS.join(' '), tokenDelayMs: 30 };

interface Resumed {
  ack: Ack<{ status: string }>;
  tokens: ChatTokenEvent[];
  errors: ChatErrorEvent[];
  done?: ChatDoneEvent;
}

/** chat:resume on `socket`; resolves once the answer's done (or error, or a refused ack) has arrived. */
function resume(socket: ClientSocket, id: string, fromSeq: number): Promise<Resumed> {
  const out: Resumed = { ack: { ok: true, data: { status: '' } }, tokens: [], errors: [] };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`resume of ${id} did not finish`)), 20_000);
    const finish = () => {
      clearTimeout(timer);
      resolve(out);
    };
    socket.on('chat:token', (e) => e.id === id && out.tokens.push(e));
    socket.on('chat:error', (e) => {
      if (e.id !== id) return;
      out.errors.push(e);
      if (e.code === 'answer_lost') finish();
    });
    socket.on('chat:done', (e) => {
      if (e.id !== id) return;
      out.done = e;
      finish();
    });
    socket.emit('chat:resume', { id, fromSeq }, (ack) => {
      out.ack = ack as Resumed['ack'];
      if (!ack.ok) finish();
    });
  });
}

/**
 * An answer's events live in the chat database (the journal), not in the
 * process running it: a client that reconnects to another instance gets the
 * replay of what it missed and then the live tail, with no gap and no
 * duplicate, and the id is never answered a second time there.
 */
describe('resuming an answer on another instance', () => {
  let grok: MockOpenAI;
  let a: TestServer;
  let b: TestServer;
  const sockets: ClientSocket[] = [];
  const connect = async (server: TestServer, token: string) => {
    const socket = await connectSocket(server.url, token);
    sockets.push(socket);
    return socket;
  };

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: SLOW_ANSWER });
    const settings = { XAI_API_KEY: 'xai-key', XAI_BASE_URL: grok.url, ANSWER_JOURNAL_FLUSH_MS: '50' };
    a = await startTestServer(settings);
    b = await startTestServer(settings, { sameDatabasesAs: a });
  }, 120_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await b.close();
    await a.close();
    await grok.close();
  });

  it('replays what the client missed, then follows the live tail to done: every seq once, in order, the whole text', async () => {
    const user = await a.signUp();
    const onA = await connect(a, user.accessToken);
    const id = randomUUID();
    let dropped: Promise<Resumed> | undefined;
    let onB: ClientSocket | undefined;
    let textOnA = '';
    const first = ask(onA, { id, message: 'BTC?' }, (token, collected) => {
      // The connection drops after the fifth token event; the client reconnects to the other instance.
      if (collected.tokens.length !== 5 || dropped) return;
      const fromSeq = token.seq;
      textOnA = collected.text;
      onA.disconnect();
      dropped = connect(b, user.accessToken).then((socket) => {
        onB = socket;
        return resume(socket, id, fromSeq);
      });
    });
    void first.catch(() => undefined);
    for (let i = 0; i < 200 && !dropped; i++) await new Promise((r) => setTimeout(r, 20));
    const resumed = await dropped!;
    expect(resumed.ack).toEqual({ ok: true, data: { status: 'streaming' } });
    const seqs = resumed.tokens.map((t) => t.seq);
    expect(seqs[0]).toBe(5);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 5));
    expect(resumed.done).toMatchObject({ id, status: 'complete' });
    // What A delivered before the drop and what B delivered after it make the whole answer, once.
    expect(textOnA + resumed.tokens.map((t) => t.delta).join('')).toBe(SLOW_ANSWER.text);
    expect(grok.requests).toHaveLength(1);

    // The same id on the other instance is never a second run.
    const again = await new Promise<Ack<unknown>>((resolve) => onB!.emit('chat:send', { id, message: 'BTC?' }, resolve));
    expect(again).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect(grok.requests).toHaveLength(1);
  });

  it('stops the answer on the instance running it when the client that moved to the other one presses stop: the provider is hung up on, the answer ends aborted', async () => {
    const user = await a.signUp();
    const onA = await connect(a, user.accessToken);
    const id = randomUUID();
    const upstream = grok.requests.length;
    let moved: Promise<{ socket: ClientSocket; fromSeq: number }> | undefined;
    const first = ask(onA, { id, message: 'BTC?' }, (token, collected) => {
      // The connection drops after the third token event; the client reconnects to the other instance.
      if (collected.tokens.length !== 3 || moved) return;
      onA.disconnect();
      moved = connect(b, user.accessToken).then((socket) => ({ socket, fromSeq: token.seq }));
    });
    void first.catch(() => undefined);
    for (let i = 0; i < 200 && !moved; i++) await new Promise((r) => setTimeout(r, 20));
    const { socket: onB, fromSeq } = await moved!;
    const resumed = resume(onB, id, fromSeq);
    await new Promise((r) => setTimeout(r, 150));

    const stopped = await new Promise<Ack<{ aborted: boolean }>>((resolve) => onB.emit('chat:abort', { id }, resolve as (ack: Ack<unknown>) => void));
    expect(stopped).toEqual({ ok: true, data: { aborted: true } });
    expect(await grok.requests[upstream]!.ended).toBe('client-disconnected');
    const { done, tokens } = await resumed;
    expect(done).toMatchObject({ id, status: 'aborted' });
    expect(tokens.length).toBeLessThan(WORDS.length - 3);
    // Only the words delivered are charged: settled as aborted, far below the whole answer.
    expect(done!.usage.outputTokens).toBeLessThan(WORDS.length);
  });

  it('replays a finished answer whole on the other instance (status finished)', async () => {
    const user = await a.signUp();
    const onA = await connect(a, user.accessToken);
    const id = randomUUID();
    const answer = await ask(onA, { id, message: 'BTC?' });
    expect(answer.done?.status).toBe('complete');
    // Its done reaches the journal within a flush.
    await new Promise((r) => setTimeout(r, 300));
    const onB = await connect(b, user.accessToken);
    const resumed = await resume(onB, id, -1);
    expect(resumed.ack).toEqual({ ok: true, data: { status: 'finished' } });
    expect(resumed.tokens.map((t) => t.delta).join('')).toBe(answer.text);
    expect(resumed.tokens.map((t) => t.seq)).toEqual(answer.tokens.flatMap((t) => t.seq));
    expect(resumed.done).toEqual(answer.done);
  });

  it('answers not_found for an id it never saw, and for another user’s answer', async () => {
    const owner = await a.signUp();
    const other = await a.signUp();
    const id = randomUUID();
    await ask(await connect(a, owner.accessToken), { id, message: 'BTC?' });
    const onB = await connect(b, other.accessToken);
    expect((await resume(onB, id, -1)).ack).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect((await resume(onB, randomUUID(), -1)).ack).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  it('answers answer_lost at once for an answer whose instance is gone (its presence lock released), and keeps what it journaled', async () => {
    const user = await a.signUp();
    const id = randomUUID();
    // A reservation held by an instance that no longer exists, as a SIGKILLed one leaves it until the sweep.
    await createLedger({ chatDb: a.chatDb }).reserve({ userId: user.userId, requestId: id, instanceId: 'killed-instance', amount: 10 });
    await a.chatDb.query(
      `insert into zmarty_private.answer_events (user_id, request_id, n, kind, event) values ($1, $2, 0, 'tokens', '{"from":0,"deltas":["BTC ","is "]}')`,
      [user.userId, id],
    );
    const onB = await connect(b, user.accessToken);
    const started = Date.now();
    const resumed = await resume(onB, id, 0);
    expect(resumed.ack).toMatchObject({ ok: false, error: { code: 'answer_lost' } });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(resumed.tokens).toEqual([{ id, delta: 'is ', seq: 1 }]);
  });
});

