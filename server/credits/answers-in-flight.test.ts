import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PRICE_TABLE, createPricer } from './pricing';
import { estimateTokens } from '../router';
import { startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, TEST_JWT_SECRET, TEST_WEBHOOK_SECRET, type TestServer } from '../../test/test-server';
import { startWebProcess, type WebProcess } from '../../test/web-process';

const SWEEP_MS = 500;

/**
 * kill -9 of a web process with answers streaming: its reservations must not
 * stay open. The next instance's sweeper settles each for what its heartbeat
 * recorded as delivered, and the balances come out exact.
 */
describe('answers in flight when their web process dies', () => {
  let grok: MockOpenAI;
  let keeper: TestServer;
  const processes: WebProcess[] = [];
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    // A question containing "silent" never gets a first token; others get one word, then a long pause.
    grok = await startMockOpenAI({
      reply: (request) =>
        JSON.stringify(request.body.messages).includes('silent')
          ? { text: 'never said', firstTokenDelayMs: 60_000 }
          : { text: 'Bitcoin looks constructive here', tokenDelayMs: 5_000 },
    });
    // Owns the databases and signs users up; its own sweeper stays out of the way.
    keeper = await startTestServer({ XAI_API_KEY: 'xai-key', XAI_BASE_URL: grok.url, RESERVATION_SWEEP_MS: '3600000' });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const p of processes) p.child.kill('SIGKILL');
    await keeper.close();
    await grok.close();
  });

  const webEnv = () => ({
    CHAT_DATABASE_URL: keeper.chatUrl,
    TRADING_DATABASE_URL: keeper.tradingUrl,
    PUBLIC_URL: 'http://localhost:8080',
    SUPABASE_JWT_SECRET: TEST_JWT_SECRET,
    SUPABASE_ANON_KEY: keeper.anonKey,
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    XAI_API_KEY: 'xai-key',
    XAI_BASE_URL: grok.url,
    FIRST_TOKEN_TIMEOUT_MS: '120000',
    CHAT_MAX_CONCURRENT_PER_USER: '10',
    ANSWER_HEARTBEAT_MS: '100',
    ANSWER_STALE_MS: '1000',
    RESERVATION_SWEEP_MS: String(SWEEP_MS),
  });
  const balanceOf = async (userId: string) =>
    (await keeper.chatDb.query<{ balance: number }>('select balance from public.credit_balance where user_id = $1', [userId]))[0]!.balance;
  const openReservations = async () =>
    (
      await keeper.chatDb.query<{ n: number }>(
        `select count(*)::int as n from public.credits_ledger r where r.reason = 'reserve'
           and not exists (select 1 from public.credits_ledger s where s.user_id = r.user_id and s.request_id = r.request_id and s.reason = 'settle')`,
      )
    )[0]!.n;

  it('settles every reservation of a SIGKILLed instance within one sweep of the next start, charging what was delivered', async () => {
    const first = await startWebProcess(webEnv());
    processes.push(first);
    const users = [await keeper.signUp(), await keeper.signUp()];
    const before = new Map<string, number>();
    for (const u of users) before.set(u.userId, await balanceOf(u.userId));

    // Four answers that delivered their first word, one that delivered nothing.
    const received = new Map<string, { userId: string; text: string }>();
    let firstWords = 0;
    let allSpeaking!: () => void;
    const speaking = new Promise<void>((resolve) => (allSpeaking = resolve));
    for (const [i, user] of users.entries()) {
      const socket = await connectSocket(first.url, user.accessToken);
      sockets.push(socket);
      socket.on('chat:token', (e) => {
        received.get(e.id)!.text += e.delta;
        if (e.seq === 0 && ++firstWords === 4) allSpeaking();
      });
      const messages = i === 0 ? ['BTC outlook?', 'ETH outlook?', 'stay silent'] : ['SOL outlook?', 'BTC again?'];
      for (const message of messages) {
        const id = randomUUID();
        received.set(id, { userId: user.userId, text: '' });
        const ack = await new Promise<{ ok: boolean }>((resolve) => socket.emit('chat:send', { id, message }, resolve as never));
        expect(ack.ok).toBe(true);
      }
    }
    await speaking;
    // Several heartbeats record what was delivered.
    await new Promise((r) => setTimeout(r, 500));

    first.child.kill('SIGKILL');
    await first.exited;
    expect(await openReservations()).toBe(5);

    const restarted = await startWebProcess(webEnv());
    processes.push(restarted);
    const deadline = Date.now() + SWEEP_MS + 1_000;
    while ((await openReservations()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await openReservations()).toBe(0);

    const pricer = createPricer(DEFAULT_PRICE_TABLE);
    const charged = new Map<string, number>();
    for (const [id, { userId, text }] of received) {
      const [reserve, settle] = await keeper.chatDb.query<{ reason: string; delta: number; provider: string | null; model: string | null; input_tokens: number; output_tokens: number; estimated: boolean }>(
        `select reason, delta, provider, model, input_tokens, output_tokens, estimated from public.credits_ledger where user_id = $1 and request_id = $2 order by id`,
        [userId, id],
      );
      const cost = -(reserve!.delta + settle!.delta) || 0;
      if (text === '') {
        expect(cost).toBe(0);
      } else {
        expect(settle).toMatchObject({ provider: 'xai', output_tokens: estimateTokens(text), estimated: true });
        expect(cost).toBe(pricer.priceOf({ inputTokens: settle!.input_tokens, outputTokens: estimateTokens(text) }, 'xai', settle!.model!));
        expect(cost).toBeGreaterThan(0);
      }
      charged.set(userId, (charged.get(userId) ?? 0) + cost);
    }
    for (const u of users) expect(await balanceOf(u.userId)).toBe(before.get(u.userId)! - charged.get(u.userId)!);
    expect(restarted.output()).toContain('settled the reservation of an answer whose instance stopped beating');

    restarted.child.kill('SIGTERM');
    const exit = await restarted.exited;
    if (exit.code !== 0) console.log(restarted.output().split('\n').filter((l) => !l.includes('stopped beating')).join('\n'));
    expect(exit).toMatchObject({ code: 0 });
    expect(restarted.output()).toContain('shutting down');
  }, 300_000);
});
