import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Ack } from '../../common/events';
import { startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';

// Twenty word tokens 25 ms apart: an answer streams for about half a second, so requests overlap.
const SLOW_ANSWER = { text: Array.from({ length: 20 }, (_, i) => `w${i}`).join(' '), tokenDelayMs: 25 };

/**
 * A request id is answered once — by one run of the model, on one instance —
 * and a user's answers in progress are capped, wherever the requests land.
 */
describe('one answer per request id, a cap on answers in progress', () => {
  let grok: MockOpenAI;
  let a: TestServer;
  let b: TestServer;
  const sockets: ClientSocket[] = [];
  const connect = async (server: TestServer, token: string) => {
    const socket = await connectSocket(server.url, token);
    sockets.push(socket);
    return socket;
  };
  const send = (socket: ClientSocket, id: string, message = 'what is the BTC signal?') =>
    new Promise<Ack<{ requestId: string }>>((resolve) => socket.emit('chat:send', { id, message }, resolve));
  const ledgerRows = (userId: string, requestId: string) =>
    a.chatDb.query<{ reason: string }>('select reason from public.credits_ledger where user_id = $1 and request_id = $2 order by id', [userId, requestId]);
  const settled = async (userId: string, requestId: string) => {
    for (let i = 0; i < 100 && (await ledgerRows(userId, requestId)).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    return ledgerRows(userId, requestId);
  };

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: SLOW_ANSWER });
    const settings = { XAI_API_KEY: 'xai-key', CHAT_MAX_CONCURRENT_PER_USER: '2', CHAT_MAX_PER_MINUTE: '1000' };
    a = await startTestServer({ ...settings, XAI_BASE_URL: grok.url });
    // A second web process on the same databases, as behind a load balancer.
    b = await startTestServer({ ...settings, XAI_BASE_URL: grok.url }, { sameDatabasesAs: a });
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    // Let every answer settle before the next test counts requests.
    await new Promise((r) => setTimeout(r, 700));
    grok.reset();
  });
  afterAll(async () => {
    await b.close();
    await a.close();
    await grok.close();
  });

  it('runs the model once for the same id sent at the same moment on two sockets; the other gets conflict', async () => {
    const user = await a.signUp();
    const [s1, s2] = [await connect(a, user.accessToken), await connect(a, user.accessToken)];
    for (let pair = 0; pair < 5; pair++) {
      const id = randomUUID();
      const acks = await Promise.all([send(s1, id), send(s2, id)]);
      expect(acks.filter((x) => x.ok)).toHaveLength(1);
      expect(acks.find((x) => !x.ok)).toMatchObject({ ok: false, error: { code: 'conflict' } });
      expect((await settled(user.userId, id)).map((r) => r.reason)).toEqual(['reserve', 'settle']);
    }
    expect(grok.requests).toHaveLength(5);
  });

  it('runs the model once for the same id sent at once to two server instances', async () => {
    const user = await a.signUp();
    const [onA, onB] = [await connect(a, user.accessToken), await connect(b, user.accessToken)];
    for (let pair = 0; pair < 5; pair++) {
      const id = randomUUID();
      const acks = await Promise.all([send(onA, id), send(onB, id)]);
      expect(acks.filter((x) => x.ok)).toHaveLength(1);
      expect(acks.find((x) => !x.ok)).toMatchObject({ ok: false, error: { code: 'conflict' } });
      expect((await settled(user.userId, id)).map((r) => r.reason)).toEqual(['reserve', 'settle']);
    }
    // One answer per id. The losing instance may have sent its request early (CHAT_EARLY_PROVIDER_START, after it saw
    // this user's balance): it learns of the conflict from the reservation and hangs up, so that call ends unread.
    const outcomes = await Promise.all(grok.requests.map((r) => r.ended));
    expect(outcomes.filter((o) => o === 'finished')).toHaveLength(5);
    expect(outcomes.filter((o) => o !== 'finished').every((o) => o === 'client-disconnected')).toBe(true);
    expect(grok.requests.length).toBeLessThanOrEqual(9);
  });

  it('runs the model once for two POST /chat with the same Idempotency-Key at once', async () => {
    const user = await a.signUp();
    const key = `key-${randomUUID()}`;
    const post = (server: TestServer) =>
      fetch(`${server.url}/chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ message: 'what is the BTC signal?' }),
      });
    const responses = await Promise.all([post(a), post(b)]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 409]);
    const refused = responses.find((r) => r.status === 409)!;
    expect(await refused.json()).toMatchObject({ error: { code: 'conflict' } });
    expect(grok.requests).toHaveLength(1);
    expect((await settled(user.userId, key)).map((r) => r.reason)).toEqual(['reserve', 'settle']);
  });

  it('never has more than the cap streaming: 30 sends from 5 sockets over two instances', async () => {
    const user = await a.signUp();
    // Long enough that most sends arrive while the first answers still stream.
    grok.setDefault({ text: Array.from({ length: 80 }, (_, i) => `w${i}`).join(' '), tokenDelayMs: 25 });
    try {
      const socketsOfUser = await Promise.all(Array.from({ length: 5 }, (_, i) => connect(i % 2 ? b : a, user.accessToken)));
      const acks = await Promise.all(Array.from({ length: 30 }, (_, i) => send(socketsOfUser[i % 5]!, randomUUID())));
      const accepted = acks.filter((x) => x.ok).length;
      expect(accepted).toBeGreaterThanOrEqual(2);
      expect(new Set(acks.filter((x) => !x.ok).map((x) => (x.ok ? '' : x.error.code)))).toEqual(new Set(['rate_limited']));
      expect(grok.requests).toHaveLength(accepted);
      await Promise.all(grok.requests.map((r) => r.ended));
      // The most provider streams open at any one moment.
      const edges = grok.requests.flatMap((r) => [
        { at: r.receivedAt, d: 1 },
        { at: r.endedAt!, d: -1 },
      ]);
      edges.sort((x, y) => x.at - y.at || x.d - y.d);
      let open = 0;
      let most = 0;
      for (const e of edges) most = Math.max(most, (open += e.d));
      expect(most).toBeLessThanOrEqual(2);
      // Refused requests reserved nothing.
      const rows = await a.chatDb.query<{ n: number }>(`select count(*)::int as n from public.credits_ledger where user_id = $1 and reason = 'reserve'`, [user.userId]);
      expect(rows[0]!.n).toBe(accepted);
    } finally {
      grok.setDefault(SLOW_ANSWER);
    }
  });

  it('scopes request ids per user: a second user may use an id already taken, and is answered', async () => {
    const [first, second] = [await a.signUp(), await a.signUp()];
    const id = 'my-first-question';
    const one = await ask(await connect(a, first.accessToken), { id, message: 'hello' });
    const two = await ask(await connect(b, second.accessToken), { id, message: 'hello' });
    expect(one.done?.status).toBe('complete');
    expect(two.ack).toEqual({ ok: true, data: { requestId: id, conversationId: two.done!.conversationId } });
    expect(two.done?.status).toBe('complete');
  });
});
