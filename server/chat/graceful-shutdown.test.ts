import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ack } from '../../common/events';
import { startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket, type CollectedAnswer } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';

const LONG_ANSWER = { text: Array.from({ length: 100 }, (_, i) => `w${i}`).join(' '), tokenDelayMs: 30 };
const SHORT_ANSWER = { text: 'BTC is long.', tokenDelayMs: 20 };

/**
 * SIGTERM (server.close) never strands credits: new answers are refused,
 * answers in flight get the drain to finish, the rest are cut, settled for
 * what they delivered and their clients told — all before the pools close.
 */
describe('graceful shutdown of the web process', () => {
  let grok: MockOpenAI;
  // Owns the databases and outlives the instances under test, to read the ledger after them.
  let keeper: TestServer;

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: LONG_ANSWER });
    keeper = await startTestServer({ XAI_API_KEY: 'xai-key', XAI_BASE_URL: grok.url });
  });
  afterAll(async () => {
    await keeper.close();
    await grok.close();
  });

  const instance = (drainMs: number) =>
    startTestServer({ XAI_API_KEY: 'xai-key', XAI_BASE_URL: grok.url, SHUTDOWN_DRAIN_MS: String(drainMs), CHAT_MAX_CONCURRENT_PER_USER: '5' }, { sameDatabasesAs: keeper });
  const balanceOf = async (userId: string) =>
    (await keeper.chatDb.query<{ balance: number }>('select balance from public.credit_balance where user_id = $1', [userId]))[0]!.balance;
  const openReservations = async (userId: string) =>
    (
      await keeper.chatDb.query<{ n: number }>(
        `select count(*)::int as n from public.credits_ledger r where r.user_id = $1 and r.reason = 'reserve'
           and not exists (select 1 from public.credits_ledger s where s.user_id = r.user_id and s.request_id = r.request_id and s.reason = 'settle')`,
        [userId],
      )
    )[0]!.n;

  it('cuts answers still running after the drain, settles what they delivered and tells their clients before closing', async () => {
    grok.reset();
    const server = await instance(300);
    const user = await keeper.signUp();
    const before = await balanceOf(user.userId);
    const socket = await connectSocket(server.url, user.accessToken);
    let firstTokens = 0;
    let allStarted!: () => void;
    const started = new Promise<void>((resolve) => (allStarted = resolve));
    const answers = Array.from({ length: 3 }, () =>
      ask(socket, { id: randomUUID(), message: 'write a long essay on BTC' }, (e) => {
        if (e.seq === 0 && ++firstTokens === 3) allStarted();
      }),
    );
    await started;
    const disconnected = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));

    const closing = server.close();
    // Refused at once: the drain has begun.
    const late = await new Promise<Ack<{ requestId: string }>>((resolve) => socket.emit('chat:send', { id: randomUUID(), message: 'one more?' }, resolve));
    expect(late).toMatchObject({ ok: false, error: { code: 'unavailable' } });

    const collected: CollectedAnswer[] = await Promise.all(answers);
    await closing;
    await disconnected;
    let charged = 0;
    for (const answer of collected) {
      expect(answer.errors.map((e) => e.code)).toEqual(['unavailable']);
      expect(answer.done).toMatchObject({ status: 'aborted', provider: 'xai' });
      expect(answer.text.length).toBeGreaterThan(0);
      expect(answer.text.length).toBeLessThan(LONG_ANSWER.text.length);
      expect(answer.done!.credits.charged).toBeGreaterThan(0);
      charged += answer.done!.credits.charged;
    }
    expect(await openReservations(user.userId)).toBe(0);
    expect(await balanceOf(user.userId)).toBe(before - charged);
    socket.close();
  });

  it('lets answers that finish within the drain complete normally', async () => {
    grok.reset();
    grok.script(SHORT_ANSWER);
    grok.script(SHORT_ANSWER);
    const server = await instance(5_000);
    const user = await keeper.signUp();
    const socket = await connectSocket(server.url, user.accessToken);
    let allStarted!: () => void;
    let firstTokens = 0;
    const started = new Promise<void>((resolve) => (allStarted = resolve));
    const answers = Array.from({ length: 2 }, () =>
      ask(socket, { id: randomUUID(), message: 'BTC?' }, (e) => {
        if (e.seq === 0 && ++firstTokens === 2) allStarted();
      }),
    );
    await started;
    const closing = server.close();
    const collected = await Promise.all(answers);
    await closing;
    for (const answer of collected) {
      expect(answer.errors).toEqual([]);
      expect(answer.done).toMatchObject({ status: 'complete' });
      expect(answer.text).toBe(SHORT_ANSWER.text);
    }
    expect(await openReservations(user.userId)).toBe(0);
    socket.close();
  });
});
