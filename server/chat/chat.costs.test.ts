import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { faults, startMockAnthropic, startMockOpenAI, type MockAnthropic, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';

/** Credits reserved for an answer follow its route and the balance (README: "What an answer reserves"). */
describe('credits sized to the route and the balance (Grok and Claude over their SDKs)', () => {
  let grok: MockOpenAI;
  let claude: MockAnthropic;
  let server: TestServer;
  const sockets: ClientSocket[] = [];
  const ledgerRows = (userId: string, requestId: string) =>
    server.chatDb.query<{ reason: string; delta: number }>('select reason, delta from public.credits_ledger where user_id = $1 and request_id = $2 order by id', [userId, requestId]);
  const balanceOf = async (userId: string) =>
    (await server.chatDb.query<{ balance: number }>('select balance from public.credit_balance where user_id = $1', [userId]))[0]!.balance;
  /** A fresh user left with `balance` credits (the rest taken by an adjustment row, as an operator would). */
  const userWith = async (balance: number) => {
    const user = await server.signUp();
    const current = await balanceOf(user.userId);
    await server.chatDb.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, $2, 'adjustment', 'test-adjust')`, [
      user.userId,
      balance - current,
    ]);
    const socket = await connectSocket(server.url, user.accessToken);
    sockets.push(socket);
    return { ...user, socket };
  };

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: 'Grok: BTC is long.' } });
    claude = await startMockAnthropic({ reply: { text: 'Claude: because the trend is up.' } });
    server = await startTestServer({
      XAI_API_KEY: 'xai-test-key',
      XAI_BASE_URL: grok.url,
      ANTHROPIC_API_KEY: 'anthropic-test-key',
      ANTHROPIC_BASE_URL: claude.url,
      FIRST_TOKEN_TIMEOUT_MS: '2000',
      CHAT_MAX_OUTPUT_TOKENS: '1024',
    });
  });
  afterEach(() => {
    grok.reset();
    claude.reset();
    for (const s of sockets.splice(0)) s.close();
  });
  afterAll(async () => {
    await server.close();
    await grok.close();
    await claude.close();
  });

  it('answers a user with 30 credits on the priciest route, with the output capped to what 30 credits buy', async () => {
    const user = await userWith(30);
    claude.script({ text: 'Because the trend is up.', usage: { inputTokens: 300, outputTokens: 6 } });
    const id = randomUUID();
    // A reasoning cue routes to Claude first: the full budget there costs more than 30 credits.
    const answer = await ask(user.socket, { id, message: 'why is BTC up today?' });

    expect(answer.ack).toMatchObject({ ok: true, data: { requestId: id } });
    expect(answer.done).toMatchObject({ provider: 'anthropic', status: 'complete' });
    expect(answer.text).toBe('Because the trend is up.');
    const cap = claude.requests[0]!.body.max_tokens as number;
    expect(cap).toBeLessThan(1024);
    expect(cap).toBeGreaterThanOrEqual(64);
    expect(grok.requests).toHaveLength(0);
    // The whole balance was held, the unused part returned.
    const rows = await ledgerRows(user.userId, id);
    expect(rows.map((r) => [r.reason, r.delta])).toEqual([
      ['reserve', -30],
      ['settle', 30 - answer.done!.credits.charged],
    ]);
    expect(await balanceOf(user.userId)).toBe(30 - answer.done!.credits.charged);
  });

  it('reserves for the cheap provider tried first, not the worst case over all providers', async () => {
    const user = await userWith(2);
    const id = randomUUID();
    const answer = await ask(user.socket, { id, message: 'BTC signal?' });
    expect(answer.done).toMatchObject({ provider: 'xai', status: 'complete' });
    expect(grok.requests[0]!.body.max_tokens).toBe(1024);
    const rows = await ledgerRows(user.userId, id);
    expect(-rows[0]!.delta).toBeLessThanOrEqual(2);
  });

  it('refuses with insufficient_credits only when not even a minimal answer fits, writing nothing', async () => {
    const user = await userWith(2);
    const id = randomUUID();
    const answer = await ask(user.socket, { id, message: 'why is BTC up today?' });
    expect(answer.ack).toMatchObject({ ok: false, error: { code: 'insufficient_credits' } });
    expect(await ledgerRows(user.userId, id)).toEqual([]);
    expect(claude.requests).toHaveLength(0);
  });

  it('extends the reservation before falling back to a pricier provider', async () => {
    const user = await userWith(500);
    grok.script(faults.status(500), faults.status(500));
    claude.script({ text: 'Claude took over.', usage: { inputTokens: 300, outputTokens: 5 } });
    const id = randomUUID();
    const answer = await ask(user.socket, { id, message: 'BTC signal?' });

    expect(answer.done).toMatchObject({ provider: 'anthropic', status: 'complete' });
    expect(claude.requests[0]!.body.max_tokens).toBe(1024);
    const rows = await ledgerRows(user.userId, id);
    expect(rows.map((r) => r.reason)).toEqual(['reserve', 'extend', 'settle']);
    const held = -(rows[0]!.delta + rows[1]!.delta);
    expect(rows[2]!.delta).toBe(held - answer.done!.credits.charged);
    expect(await balanceOf(user.userId)).toBe(500 - answer.done!.credits.charged);
  });

  it('fails cleanly, releasing the reservation, when the fallback cannot be paid for', async () => {
    const user = await userWith(2);
    grok.script(faults.status(500), faults.status(500));
    const id = randomUUID();
    const answer = await ask(user.socket, { id, message: 'BTC signal?' });

    expect(answer.errors.map((e) => e.code)).toContain('insufficient_credits');
    expect(answer.done).toMatchObject({ provider: 'none', credits: { charged: 0, balance: 2 } });
    expect(claude.requests).toHaveLength(0);
    expect((await ledgerRows(user.userId, id)).map((r) => r.reason)).toEqual(['reserve', 'settle']);
    expect(await balanceOf(user.userId)).toBe(2);
  });

  it('lists spend per question with its question, provider and text/voice split, and quotes prices, under the user\'s rights', async () => {
    const user = await userWith(500);
    const other = await userWith(500);
    const first = await ask(user.socket, { id: randomUUID(), message: 'BTC signal?' });
    const second = await ask(user.socket, { id: randomUUID(), message: 'why   is BTC\nup today?' });
    await ask(other.socket, { id: randomUUID(), message: 'secret question of another user' });
    const get = (path: string, token = user.accessToken) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

    const res = await get('/api/credits/spend');
    expect(res.status).toBe(200);
    const spend = await res.json();
    expect(spend.items.map((i: { question: string; provider: string }) => [i.question, i.provider])).toEqual([
      ['why is BTC up today?', 'anthropic'],
      // Grok's breaker may be open after the failover tests above: whoever answered is listed.
      ['BTC signal?', first.done!.provider],
    ]);
    expect(spend.items[1]).toMatchObject({ status: 'charged', credits: first.done!.credits.charged, textCredits: first.done!.credits.charged, voiceCredits: 0 });
    expect(spend.totals).toEqual({ questions: 2, credits: first.done!.credits.charged + second.done!.credits.charged, textCredits: first.done!.credits.charged + second.done!.credits.charged, voiceCredits: 0 });
    expect(spend.balance).toBe(500 - spend.totals.credits);
    expect((await get('/api/credits/spend?limit=0')).status).toBe(400);

    const prices = await (await get('/api/credits/prices')).json();
    // The provider a plain question goes to first; Claude's full answer is the most a question can hold.
    expect(prices).toMatchObject({ maxOutputTokens: 1024, text: { provider: first.done!.provider }, voice: null });
    expect(prices.text.perAnswer).toBeLessThan(prices.text.upTo);
    expect(prices.fullAnswer).toBeGreaterThanOrEqual(prices.text.upTo);
    expect(prices.minimumAnswer).toBeGreaterThanOrEqual(1);
  });
});

