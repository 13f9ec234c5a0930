import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../common/logger';
import { ask, connectSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';
import { createLedger } from '../credits/ledger';
import { createAnswerPath } from './answer-path.queries';
import { gatherContext } from './chat-context';

/**
 * The facts the chat is grounded in, read from the real databases: the 24 h
 * change and the liquidation clusters nearest the price (trading), the
 * balance and recent spend (chat: answer_facts, for the verified user).
 */
describe('chat context: 24 h change, clusters near price, balance and spend', () => {
  let server: TestServer;
  const H = 3_600_000;
  const last = Date.parse('2025-06-01T10:00:00Z');

  beforeAll(async () => {
    server = await startTestServer();
    // 30 hourly BTC candles: the close 24 h before the last is 100, the last is 103.
    const times = Array.from({ length: 30 }, (_, i) => last - (29 - i) * H);
    for (const t of times) {
      const close = t === last ? 103 : t === last - 24 * H ? 100 : 101;
      await server.tradingDb.query(
        `insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
         values ('BTC/USDT', '1h', to_timestamp($1 / 1000.0), $2::float8, $2::float8 + 1, $2::float8 - 1, $2::float8, 10, 'test')`,
        [t, close],
      );
    }
    // An older map (ignored) and the latest one, whose clusters are ordered by distance to 103.
    const cluster = (at: number, side: string, low: number, high: number, strength: number) =>
      server.tradingDb.query(
        `insert into public.liq_clusters (symbol, timeframe, candle_time, source, side, price_low, price_high, strength)
         values ('BTC/USDT', '1h', to_timestamp($1 / 1000.0), 'estimated', $2, $3, $4, $5)`,
        [at, side, low, high, strength],
      );
    await cluster(last - H, 'short', 103.5, 104, 1);
    await cluster(last, 'short', 120, 121, 1);
    await cluster(last, 'long', 98, 99, 0.4);
    await cluster(last, 'short', 104, 105, 0.7);
  });
  afterAll(() => server.close());

  it('gathers them with the watchlist, and spend counts settled answers only', async () => {
    const user = await server.signUp();
    const other = await server.signUp();
    for (const symbol of ['BTC/USDT', 'ETH/USDT']) {
      await fetch(`${server.url}/api/symbols`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ symbol }),
      });
    }
    const ledger = createLedger({ chatDb: server.chatDb });
    const charge = async (userId: string, requestId: string, cost: number | null) => {
      await ledger.reserve({ userId, requestId, amount: 30, instanceId: 'test' });
      if (cost !== null) {
        await ledger.settle({ userId, requestId, cost, provider: 'xai', model: 'grok', inputTokens: 10, outputTokens: 10, voiceCharacters: requestId === 'r2' ? 40 : 0, estimated: false });
      }
    };
    await charge(user.userId, 'r1', 3);
    await charge(user.userId, 'r2', 12);
    await charge(user.userId, 'r3', null); // still running: held, not spent
    await charge(other.userId, 'o1', 7); // someone else's

    const verified = { userId: user.userId, role: 'authenticated', expiresAt: 0, claims: { sub: user.userId, role: 'authenticated' } };
    const context = await gatherContext({ chatDb: server.chatDb, tradingDb: server.tradingDb, log: createLogger({ level: 'silent' }) }, verified);

    const market = context.market === 'unavailable' ? [] : context.market;
    const btc = market.find((e) => e.symbol === 'BTC/USDT')!;
    expect(btc.lastPrice).toBe(103);
    expect(btc.change24hPct).toBeCloseTo(3, 10);
    expect(btc.clusters).toEqual([
      { side: 'short', priceLow: 104, priceHigh: 105, strength: 0.7, source: 'estimated' },
      { side: 'long', priceLow: 98, priceHigh: 99, strength: 0.4, source: 'estimated' },
      { side: 'short', priceLow: 120, priceHigh: 121, strength: 1, source: 'estimated' },
    ]);
    // No candles: no change, no clusters — and no made-up value.
    expect(market.find((e) => e.symbol === 'ETH/USDT')).toMatchObject({ lastPrice: null, change24hPct: null, clusters: [] });

    expect(context.account).toMatchObject({ balance: 1000 - 3 - 12 - 30, spent24h: 15, answers24h: 2 });
    expect(context.account!.recent.map((r) => [r.credits, r.provider, r.voice])).toEqual([
      [12, 'xai', true],
      [3, 'xai', false],
    ]);
  });

  it("the answer path's facts (begin_answer) are the price preview's (answer_facts), an extended answer's charge included, and only the user's", async () => {
    const user = await server.signUp();
    await server.chatDb.query(`insert into public.user_symbols (user_id, symbol, timeframe) values ($1, 'ETH/USDT', '4h')`, [user.userId]);
    const ledger = createLedger({ chatDb: server.chatDb });
    const settle = (requestId: string, cost: number) =>
      ledger.settle({ userId: user.userId, requestId, cost, provider: 'anthropic', model: 'claude', inputTokens: 5, outputTokens: 5, voiceCharacters: 0, estimated: false });
    await ledger.reserve({ userId: user.userId, requestId: 'x1', amount: 20, instanceId: 'test' });
    await ledger.extend({ userId: user.userId, requestId: 'x1', amount: 30 }); // a fallback to a pricier provider
    await settle('x1', 41);
    await ledger.reserve({ userId: user.userId, requestId: 'x2', amount: 10, instanceId: 'test' });
    await settle('x2', 4);

    const verified = { userId: user.userId, role: 'authenticated', expiresAt: 0, claims: { sub: user.userId, role: 'authenticated' } };
    const other = await server.signUp();
    await ledger.reserve({ userId: other.userId, requestId: 'o1', amount: 10, instanceId: 'test' });
    await ledger.settle({ userId: other.userId, requestId: 'o1', cost: 9, provider: 'xai', model: 'grok', inputTokens: 5, outputTokens: 5, voiceCharacters: 0, estimated: false });
    const preview = await gatherContext({ chatDb: server.chatDb, tradingDb: server.tradingDb, log: createLogger({ level: 'silent' }) }, verified);
    const begun = await createAnswerPath({ chatDb: server.chatDb }).begin({
      userId: user.userId, requestId: 'x3', instanceId: 'test', limitKey: null, perMinute: 40, windowMs: 60_000, nowMs: Date.now(),
      historyMessages: 16, watchHash: null, amount: 0, minAmount: 0, preview: '', message: '', title: '',
    });
    expect(begun.outcome).toBe('facts');
    if (begun.outcome !== 'facts') return;
    expect(preview.account).toMatchObject({ balance: 1000 - 41 - 4, spent24h: 45, answers24h: 2 });
    expect(preview.account!.recent.map((r) => r.credits)).toEqual([4, 41]);
    expect(begun.facts.account).toEqual(preview.account);
    expect(begun.facts.symbols).toEqual(preview.symbols);
    expect(preview.symbols).toEqual([{ symbol: 'ETH/USDT', timeframe: '4h' }]);
  });

  it('the offline analyst answers with those facts over the socket', async () => {
    const user = await server.signUp();
    await fetch(`${server.url}/api/symbols`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: 'BTC/USDT' }),
    });
    const socket = await connectSocket(server.url, user.accessToken);
    try {
      let n = 0;
      const say = async (message: string) => (await ask(socket, { id: `q-${++n}`, message })).text;
      expect(await say('what is the BTC price?')).toContain('BTC/USDT last closed at 103. That is +3.00% over 24 hours.');
      expect(await say('liquidation clusters on BTC?')).toContain('short liquidations at 104–105 (strength 0.70, 0.97% above the price)');
      // The two answers before it were settled (1 credit each on the local analyst's price): they are the recent spend.
      expect(await say("what's my balance?")).toContain('Your balance is 998 credits. In the last 24 hours 2 answers cost 2 credits. Most recent: 1 credit just now (local); 1 credit just now (local).');
    } finally {
      socket.disconnect();
    }
  });
});
