import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMockOpenAI, type MockOpenAI, type RecordedRequest } from '../../test/mock-providers';
import { seriesValue } from '../../test/prometheus-text';
import { ask, connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
const outputCap = (r: RecordedRequest): number => r.body.max_completion_tokens ?? r.body.max_tokens;

/**
 * CHAT_EARLY_PROVIDER_START: an answer's provider request goes out while its
 * credits are being reserved, when the instance expects the grant — and
 * nothing of it reaches the user, or is charged, unless granted.
 */
describe('the provider asked while the reservation is being made', () => {
  let grok: MockOpenAI;
  let server: TestServer;
  let withoutEarlyStart: TestServer;
  const sockets: ClientSocket[] = [];
  const connect = async (on: TestServer, token: string) => {
    const socket = await connectSocket(on.url, token);
    sockets.push(socket);
    return socket;
  };

  /** Holds the user's profile row as the reservation's lock does: their next reservation waits until `release`. */
  async function holdReservations(userId: string): Promise<{ release(): Promise<void> }> {
    const client = new pg.Client({ connectionString: server.chatUrl });
    await client.connect();
    await client.query('begin');
    await client.query('select 1 from public.profiles where user_id = $1 for update', [userId]);
    return {
      async release() {
        await client.query('rollback');
        await client.end();
      },
    };
  }
  const balanceOf = async (userId: string) =>
    Number((await server.chatDb.query<{ balance: string }>('select balance from zmarty_private.credit_balances where user_id = $1', [userId]))[0]!.balance);
  /** Sets the user's balance behind the instance's back, as an operator's adjustment would. */
  const setBalance = async (userId: string, balance: number) =>
    server.chatDb.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, $2, 'adjustment', $3)`, [
      userId,
      balance - (await balanceOf(userId)),
      `test-${randomUUID()}`,
    ]);
  const ledger = (userId: string, requestId: string) =>
    server.chatDb.query<{ reason: string; delta: number }>('select reason, delta from public.credits_ledger where user_id = $1 and request_id = $2 order by id', [userId, requestId]);
  const earlyStarts = async (outcome: 'used' | 'cancelled') => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return seriesValue(text, 'zmarty_chat_early_provider_starts_total', { outcome }) ?? 0;
  };
  /** A new user with a socket on `on`, answered once there: from then on that instance has seen their balance. */
  async function answeredOnce(on: TestServer) {
    const user = await on.signUp();
    const socket = await connect(on, user.accessToken);
    const first = await ask(socket, { id: randomUUID(), message: 'What is the BTC signal?' });
    expect(first.done?.status).toBe('complete');
    return { user, socket, first };
  }
  /** Sends a question and records what reaches the client, without waiting for it. */
  function send(socket: ClientSocket, message: string) {
    const id = randomUUID();
    const seen = { tokens: 0, acked: false };
    socket.on('chat:token', (e) => void (e.id === id && seen.tokens++));
    const answer = ask(socket, { id, message }).then((a) => ((seen.acked = true), a));
    return { id, seen, answer };
  }

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: 'BTC is long with a score of 72.' } });
    const settings = { XAI_API_KEY: 'xai-key', XAI_BASE_URL: grok.url, CHAT_MAX_OUTPUT_TOKENS: '4096', CHAT_MAX_PER_MINUTE: '1000' };
    server = await startTestServer(settings);
    withoutEarlyStart = await startTestServer({ ...settings, CHAT_EARLY_PROVIDER_START: 'false' }, { sameDatabasesAs: server });
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await settle(200);
    grok.reset();
  });
  afterAll(async () => {
    await withoutEarlyStart.close();
    await server.close();
    await grok.close();
  });

  it("asks a user's first question on an instance only after the reservation, a later one while it is made; nothing reaches the client before the grant", async () => {
    const user = await server.signUp();
    const socket = await connect(server, user.accessToken);

    let lock = await holdReservations(user.userId);
    const first = send(socket, 'What is the BTC signal?');
    await settle(400);
    expect(grok.requests).toHaveLength(0);
    await lock.release();
    expect((await first.answer).done?.status).toBe('complete');
    expect(grok.requests).toHaveLength(1);

    lock = await holdReservations(user.userId);
    const second = send(socket, 'And the ETH signal?');
    await grok.waitForRequest(2, 5_000);
    // The provider has written its whole answer while the reservation still waits: none of it is sent yet.
    expect(await grok.requests[1]!.ended).toBe('finished');
    await settle(100);
    expect(second.seen).toEqual({ tokens: 0, acked: false });
    expect(await ledger(user.userId, second.id)).toEqual([]);
    await lock.release();
    const answered = await second.answer;
    expect(answered.ack.ok).toBe(true);
    expect(answered.text).toBe('BTC is long with a score of 72.');
    expect(answered.done?.status).toBe('complete');
    expect((await ledger(user.userId, second.id)).map((r) => r.reason)).toEqual(['reserve', 'settle']);
    expect(grok.requests).toHaveLength(2);
    expect(await earlyStarts('used')).toBeGreaterThanOrEqual(1);
  });

  it('aborts an early request the reservation refuses, before its first token, charging nothing; the next is asked only once granted', async () => {
    const { user, socket } = await answeredOnce(server);
    const cancelledBefore = await earlyStarts('cancelled');

    // The credits are spent elsewhere: this instance still saw enough.
    await setBalance(user.userId, 0);
    grok.setDefault({ text: 'Never sent.', firstTokenDelayMs: 1_000 });
    const refused = send(socket, 'And the ETH signal?');
    const answered = await refused.answer;
    expect(answered.ack).toMatchObject({ ok: false, error: { code: 'insufficient_credits' } });
    expect(grok.requests).toHaveLength(2);
    const early = grok.requests[1]!;
    expect(await early.ended).toBe('client-disconnected');
    expect(early.unitsSent).toBe(0);
    expect(refused.seen.tokens).toBe(0);
    expect(await ledger(user.userId, refused.id)).toEqual([]);
    expect(await earlyStarts('cancelled')).toBe(cancelledBefore + 1);

    // After a refusal the instance expects nothing: the next question waits for its reservation (refused again).
    const again = await ask(socket, { id: randomUUID(), message: 'And SOL?' });
    expect(again.ack).toMatchObject({ ok: false, error: { code: 'insufficient_credits' } });
    await settle(100);
    expect(grok.requests).toHaveLength(2);
    grok.setDefault({ text: 'BTC is long with a score of 72.' });
  });

  it('asks again within a grant smaller than the early request was capped for', async () => {
    const { user, socket, first } = await answeredOnce(server);
    const [reserve] = await ledger(user.userId, first.ack.ok ? first.ack.data.requestId : '');
    const fullAmount = -reserve!.delta;

    // Enough for a shorter answer only: the reservation grants part of what is asked.
    await setBalance(user.userId, Math.floor(fullAmount * 0.5));
    grok.setDefault({ text: 'BTC is long with a score of 72.', firstTokenDelayMs: 300 });
    const partial = await ask(socket, { id: randomUUID(), message: 'And the ETH signal?' });
    grok.setDefault({ text: 'BTC is long with a score of 72.' });
    expect(partial.done?.status).toBe('complete');
    expect(partial.text).toBe('BTC is long with a score of 72.');
    expect(grok.requests).toHaveLength(3);
    const [, early, within] = grok.requests;
    expect(await early!.ended).toBe('client-disconnected');
    expect(outputCap(within!)).toBeLessThan(outputCap(early!));
    const rows = await ledger(user.userId, partial.done!.id);
    expect(rows.map((r) => r.reason)).toEqual(['reserve', 'settle']);
    expect(-rows[0]!.delta).toBeLessThan(fullAmount);
    expect(await balanceOf(user.userId)).toBeGreaterThanOrEqual(0);
  });

  it('asks a question sent while another answer of the same user is in progress only after its reservation', async () => {
    const { user, socket } = await answeredOnce(server);
    // A burst of questions meets the cap on answers in progress and the per-minute limit: none of it is sent early.
    grok.setDefault({ text: Array.from({ length: 20 }, (_, i) => `w${i}`).join(' '), tokenDelayMs: 30 });
    const streaming = send(socket, 'Tell me about BTC.');
    await grok.waitForRequest(2, 5_000);
    const lock = await holdReservations(user.userId);
    const second = send(socket, 'And ETH?');
    await settle(300);
    expect(grok.requests).toHaveLength(2);
    await lock.release();
    expect((await second.answer).done?.status).toBe('complete');
    expect((await streaming.answer).done?.status).toBe('complete');
    expect(grok.requests).toHaveLength(3);
    grok.setDefault({ text: 'BTC is long with a score of 72.' });
  });

  it('asks nothing before the reservation with CHAT_EARLY_PROVIDER_START=false', async () => {
    const { user, socket } = await answeredOnce(withoutEarlyStart);
    const lock = await holdReservations(user.userId);
    const second = send(socket, 'And the ETH signal?');
    await settle(400);
    expect(grok.requests).toHaveLength(1);
    await lock.release();
    expect((await second.answer).done?.status).toBe('complete');
    expect(grok.requests).toHaveLength(2);
  });
});
