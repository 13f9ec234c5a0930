import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { seriesValue } from '../../test/prometheus-text';
import { ask, connectSocket, type ClientSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';
import { DEFAULT_PRICE_TABLE } from '../credits/pricing';
import { SIGNAL_CHANNEL } from '../signals/signal-push';
import { answerCacheKey, isCacheableQuestion, normaliseQuestion } from './answer-cache';

describe('answer cache keys (pure)', () => {
  it.each([
    ['What is the BTC/USDT signal?', 'what is the btc/usdt signal'],
    ['  what is the   BTC/USDT\nsignal ?!', 'what is the btc/usdt signal'],
    ['ＢＴＣ price…', 'btc price'],
  ])('normalises %j to %j', (raw, expected) => {
    expect(normaliseQuestion(raw)).toBe(expected);
  });

  it('keys the same question on the same context alike, and apart on another context', () => {
    expect(answerCacheKey('BTC signal?', 'ctx-1')).toBe(answerCacheKey('btc signal', 'ctx-1'));
    expect(answerCacheKey('BTC signal?', 'ctx-1')).not.toBe(answerCacheKey('BTC signal?', 'ctx-2'));
    expect(answerCacheKey('BTC signal?', 'ctx-1')).not.toBe(answerCacheKey('ETH signal?', 'ctx-1'));
  });

  it('caches only first questions that are not about the user’s own credits', () => {
    expect(isCacheableQuestion({ message: 'What is the BTC signal?' })).toBe(true);
    expect(isCacheableQuestion({ message: 'What is the BTC signal?', conversationId: randomUUID() })).toBe(false);
    expect(isCacheableQuestion({ message: 'What is my balance?' })).toBe(false);
    expect(isCacheableQuestion({ message: 'How many credits did I spend today?' })).toBe(false);
  });
});

/** Through the real server, Grok's loopback mock behind the openai SDK, the answer cache on. */
describe('answer cache: identical question on identical market context', () => {
  const CACHE_PRICE = 3;
  let grok: MockOpenAI;
  let server: TestServer;
  let listener: pg.Client;
  const sockets: ClientSocket[] = [];
  let candleHours = 2;

  const ledger = (userId: string, requestId: string) =>
    server.chatDb.query<{ reason: string; delta: number; provider: string | null }>(
      'select reason, delta, provider from public.credits_ledger where user_id = $1 and request_id = $2 order by id',
      [userId, requestId],
    );
  /** A user watching BTC/USDT 1h, with a connected socket. */
  const trader = async () => {
    const user = await server.signUp();
    await server.chatDb.query(`insert into public.user_symbols (user_id, symbol, timeframe) values ($1, 'BTC/USDT', '1h')`, [user.userId]);
    const socket = await connectSocket(server.url, user.accessToken);
    sockets.push(socket);
    return { ...user, socket };
  };
  /** A new candle's signal, and its NOTIFY seen by a listener of our own (the server's arrives alongside). */
  const newCandle = async () => {
    const heard = new Promise<void>((resolve) => listener.once('notification', () => resolve()));
    await server.tradingDb.query(
      `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons)
       values ('BTC/USDT', '1h', date_trunc('hour', now()) - make_interval(hours => $1), 'long', 70, 97500, 95800, 101000, '[]')`,
      [--candleHours],
    );
    await heard;
    // The server's own listener handles the same notification; give its event loop a moment.
    await new Promise((r) => setTimeout(r, 100));
  };
  /** zmarty_cache_lookups_total{cache="answer"} from GET /metrics. */
  const answerLookups = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const count = (result: string) => seriesValue(text, 'zmarty_cache_lookups_total', { cache: 'answer', result }) ?? 0;
    return { hit: count('hit'), miss: count('miss') };
  };
  /** The cache is written after the answer (not on its path): wait for the row. */
  const cachedRows = async (want: number) => {
    for (let i = 0; i < 100; i++) {
      const [row] = await server.chatDb.query<{ n: number }>('select count(*)::int as n from zmarty_private.answer_cache');
      if (row!.n >= want) return row!.n;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the answer cache never held ${want} answers`);
  };

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: 'BTC/USDT 1h is long at 97,500 with a stop at 95,800.', tokenDelayMs: 1 } });
    server = await startTestServer({
      XAI_API_KEY: 'xai-key',
      XAI_BASE_URL: grok.url,
      CHAT_ANSWER_CACHE_TTL_SECONDS: '600',
      PRICE_TABLE: JSON.stringify({ ...DEFAULT_PRICE_TABLE, cache: { perAnswer: CACHE_PRICE } }),
    });
    listener = new pg.Client({ connectionString: server.tradingUrl });
    await listener.connect();
    await listener.query(`listen ${SIGNAL_CHANNEL}`);
    await newCandle();
  }, 120_000);
  afterEach(() => {
    for (const s of sockets.splice(0)) s.close();
  });
  afterAll(async () => {
    await listener?.end();
    await server?.close();
    await grok?.close();
  });

  it('answers the second identical question from the cache, streamed as chat:token events, without calling the provider, at the cache price', async () => {
    grok.reset();
    const first = await trader();
    const second = await trader();
    const lookups = await answerLookups();
    const a = await ask(first.socket, { id: randomUUID(), message: 'What is the BTC/USDT signal?' });
    expect(a.done).toMatchObject({ provider: 'xai', status: 'complete' });
    expect(grok.requests).toHaveLength(1);
    await cachedRows(1);

    const id = randomUUID();
    // Another user, the same question written differently: the same normalised question on the same market.
    const b = await ask(second.socket, { id, message: '  what is the BTC/USDT   signal' });
    expect(b.ack).toMatchObject({ ok: true });
    expect(grok.requests).toHaveLength(1);
    expect(b.done).toMatchObject({ provider: 'cache', model: a.done!.model, status: 'complete', credits: { charged: CACHE_PRICE } });
    expect(b.text).toBe(a.text);
    expect(b.tokens.map((t) => t.seq)).toEqual(b.tokens.map((_, i) => i));
    // Through the ledger like any answer: reserved (for the provider: the lookup runs beside the reservation), settled at the cache price.
    const rows = await ledger(second.userId, id);
    expect(rows.map((r) => [r.reason, r.provider])).toEqual([
      ['reserve', null],
      ['settle', 'cache'],
    ]);
    expect(-rows.reduce((sum, r) => sum + r.delta, 0)).toBe(CACHE_PRICE);
    // The lookups made inside begin_answer are counted: the first a miss, the second a hit.
    expect(await answerLookups()).toEqual({ hit: lookups.hit + 1, miss: lookups.miss + 1 });
  });

  it('answers from the cache a user whose whole balance is the cache price, leaving 0', async () => {
    grok.reset();
    const user = await trader();
    const [row] = await server.chatDb.query<{ balance: number }>('select balance from public.credit_balance where user_id = $1', [user.userId]);
    const balance = row!.balance;
    await server.chatDb.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, $2, 'adjustment', 'test-adjust')`, [
      user.userId,
      CACHE_PRICE - balance,
    ]);
    const b = await ask(user.socket, { id: randomUUID(), message: 'What is the BTC/USDT signal?' });
    expect(b.done).toMatchObject({ provider: 'cache', credits: { charged: CACHE_PRICE, balance: 0 } });
    expect(grok.requests).toHaveLength(0);
  });

  it('serves POST /chat from the same cache', async () => {
    grok.reset();
    const user = await trader();
    const res = await fetch(`${server.url}/chat`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'What is the BTC/USDT signal?' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { provider: string; text: string; credits: { charged: number } };
    expect(body).toMatchObject({ provider: 'cache', credits: { charged: CACHE_PRICE } });
    expect(body.text).toContain('97,500');
    expect(grok.requests).toHaveLength(0);
  });

  it('asks the provider again once a new candle changed the context', async () => {
    grok.reset();
    const user = await trader();
    const before = await ask(user.socket, { id: randomUUID(), message: 'What is the BTC/USDT signal?' });
    expect(before.done?.provider).toBe('cache');
    const cached = await cachedRows(1);

    await newCandle();
    const after = await ask(user.socket, { id: randomUUID(), message: 'What is the BTC/USDT signal?' });
    expect(after.done).toMatchObject({ provider: 'xai', status: 'complete' });
    expect(grok.requests).toHaveLength(1);
    // The new context's answer is kept under its own key.
    await cachedRows(cached + 1);
  });

  it('never answers a follow-up or a question about the user’s credits from the cache', async () => {
    grok.reset();
    const user = await trader();
    const opening = await ask(user.socket, { id: randomUUID(), message: 'What is my balance?' });
    expect(opening.done?.provider).toBe('xai');
    const again = await ask(user.socket, { id: randomUUID(), message: 'What is my balance?' });
    expect(again.done?.provider).toBe('xai');
    const followUp = await ask(user.socket, { id: randomUUID(), message: 'What is the BTC/USDT signal?', conversationId: opening.done!.conversationId });
    expect(followUp.done?.provider).toBe('xai');
    expect(grok.requests).toHaveLength(3);
    // A question about credits is asked with the user's account facts; a cacheable one is not.
    expect(JSON.stringify(grok.requests[0]!.body.messages)).toContain("User's credits");
  });
  it('sends no early provider request for a question this instance saw in the cache; a hit it had not seen costs one, cancelled, then none', async () => {
    const other = await startTestServer(
      { XAI_API_KEY: 'xai-key', XAI_BASE_URL: grok.url, CHAT_ANSWER_CACHE_TTL_SECONDS: '600', PRICE_TABLE: JSON.stringify({ ...DEFAULT_PRICE_TABLE, cache: { perAnswer: CACHE_PRICE } }) },
      { sameDatabasesAs: server },
    );
    try {
      grok.reset();
      const question = 'Is BTC/USDT trending up on the hour?';
      // On this instance: asked (the provider answers, the answer is cached), then asked again by the same user, whose
      // balance this instance has seen: a hit it knows of is not sent to the provider at all.
      const here = await trader();
      expect((await ask(here.socket, { id: randomUUID(), message: question })).done?.provider).toBe('xai');
      await cachedRows(1);
      expect((await ask(here.socket, { id: randomUUID(), message: question })).done?.provider).toBe('cache');
      expect(grok.requests).toHaveLength(1);

      // On the other instance, a user it has seen able to pay asks the same question: it has not seen that cache
      // entry, so the provider is asked while reserving, and the hit found there hangs that request up unread.
      const user = await other.signUp();
      await other.chatDb.query(`insert into public.user_symbols (user_id, symbol, timeframe) values ($1, 'BTC/USDT', '1h')`, [user.userId]);
      const there = await connectSocket(other.url, user.accessToken);
      sockets.push(there);
      expect((await ask(there, { id: randomUUID(), message: 'What should I watch on BTC/USDT today?' })).done?.provider).toBe('xai');
      expect(grok.requests).toHaveLength(2);
      grok.setDefault({ text: 'Never read.', firstTokenDelayMs: 1_000 });
      const hit = await ask(there, { id: randomUUID(), message: question });
      expect(hit.done).toMatchObject({ provider: 'cache', status: 'complete', credits: { charged: CACHE_PRICE } });
      expect(grok.requests).toHaveLength(3);
      expect(await grok.requests[2]!.ended).toBe('client-disconnected');
      // Now it has seen it: the next hit is not sent early.
      expect((await ask(there, { id: randomUUID(), message: question })).done?.provider).toBe('cache');
      expect(grok.requests).toHaveLength(3);
    } finally {
      grok.setDefault({ text: 'BTC/USDT 1h is long at 97,500 with a stop at 95,800.', tokenDelayMs: 1 });
      await other.close();
    }
  });
});
