import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../common/db';
import { createLogger } from '../../common/logger';
import { createApp } from '../app';
import { createSymbolDirectory } from './symbol-directory';
import { startTestServer, type TestServer } from '../../test/test-server';

describe('watched symbols API', () => {
  let server: TestServer;
  let token: string;
  const call = (path: string, init: RequestInit = {}, bearer = token) =>
    fetch(`${server.url}/api/symbols${path}`, {
      ...init,
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });
  const countRows = async () => (await server.chatDb.query<{ n: number }>('select count(*)::int as n from public.user_symbols'))[0]!.n;

  beforeAll(async () => {
    server = await startTestServer();
    token = (await server.signUp()).accessToken;
  });
  afterAll(() => server.close());

  it('adds, lists and removes symbols', async () => {
    const added = await call('', { method: 'POST', body: JSON.stringify({ symbol: 'btc/usdt' }) });
    expect(added.status).toBe(201);
    const row = await added.json();
    expect(row).toMatchObject({ symbol: 'BTC/USDT', timeframe: '1h' });

    await call('', { method: 'POST', body: JSON.stringify({ symbol: 'ETH/USDT', timeframe: '4h' }) });
    const list = await (await call('')).json();
    expect(list.symbols.map((s: { symbol: string }) => s.symbol)).toEqual(['BTC/USDT', 'ETH/USDT']);

    const duplicate = await call('', { method: 'POST', body: JSON.stringify({ symbol: 'BTC/USDT' }) });
    expect(duplicate.status).toBe(409);

    expect((await call(`/${row.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(`/${row.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await (await call('')).json()).symbols).toHaveLength(1);
  });

  it('caps a watchlist at 50 pairs, for two adds at once and for an insert that bypasses the API (as the Data API would)', async () => {
    const user = await server.signUp();
    const add = (symbol: string, timeframe: string) =>
      call('', { method: 'POST', body: JSON.stringify({ symbol, timeframe }) }, user.accessToken);
    const bases = ['BTC', 'ETH', 'SOL', 'XRP', 'DOGE', 'ADA', 'AVAX', 'LINK', 'DOT'];
    const timeframes = ['1m', '5m', '15m', '1h', '4h', '1d'];
    const pairs = bases.flatMap((b) => timeframes.map((tf) => [`${b}/USDT`, tf] as const));
    for (const [symbol, tf] of pairs.slice(0, 49)) expect((await add(symbol, tf)).status).toBe(201);

    // The 50th place, asked for twice at once: one gets it.
    const raced = await Promise.all([add(...pairs[49]!), add(...pairs[50]!)]);
    expect(raced.map((r) => r.status).sort()).toEqual([201, 409]);
    const full = raced.find((r) => r.status === 409)!;
    expect(await full.json()).toEqual({ error: { code: 'conflict', message: 'Your watchlist is full: at most 50 pairs. Remove one to add another.' } });
    // A pair already on the list is still only "already on your list".
    expect(await (await add(...pairs[0]!)).json()).toMatchObject({ error: { code: 'conflict', message: 'BTC/USDT 1m is already on your list' } });

    const direct = server.chatDb.asUser({ sub: user.userId, role: 'authenticated' }, (q) =>
      q.query(`insert into public.user_symbols (symbol, timeframe) values ('LTC/USDT', '1h')`),
    );
    await expect(direct).rejects.toMatchObject({ constraint: 'user_symbols_cap' });
    const [{ n }] = (await server.chatDb.query<{ n: number }>('select count(*)::int as n from public.user_symbols where user_id = $1', [user.userId])) as [{ n: number }];
    expect(n).toBe(50);

    // Room again once one goes.
    const listed = (await (await call('', {}, user.accessToken)).json()).symbols as Array<{ id: number }>;
    expect((await call(`/${listed[0]!.id}`, { method: 'DELETE' }, user.accessToken)).status).toBe(204);
    expect((await add('LTC/USDT', '1h')).status).toBe(201);
  });

  for (const [name, body] of [
    ['SQL-ish symbol', { symbol: 'BTCUSDT;drop' }],
    ['500 characters', { symbol: 'A'.repeat(500) }],
    ['empty symbol', { symbol: '' }],
    ['missing symbol', {}],
    ['unknown timeframe', { symbol: 'BTC/USDT', timeframe: '7m' }],
    ['wrong type', { symbol: 42 }],
  ] as const) {
    it(`rejects ${name} with 400 and writes nothing`, async () => {
      const before = await countRows();
      const res = await call('', { method: 'POST', body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      const json = await res.json();
      expect(json.error.code).toBe('invalid_symbol');
      expect(typeof json.error.message).toBe('string');
      expect(await countRows()).toBe(before);
    });
  }

  it('refuses a well-formed pair the simulated market does not list with unknown_symbol and close suggestions, writing nothing', async () => {
    const before = await countRows();
    for (const [symbol, suggestions] of [
      ['FOO/BAR', []],
      ['XYZQ/USDT', []],
      ['BTC/USTD', ['BTC/USDT', 'BTC/USDC']],
    ] as const) {
      const res = await call('', { method: 'POST', body: JSON.stringify({ symbol }) });
      expect(res.status).toBe(400);
      const { error } = await res.json();
      expect(error).toMatchObject({ code: 'unknown_symbol', suggestions });
      expect(error.message).toContain(`${symbol} is not traded on the simulated market`);
      for (const s of suggestions) expect(error.message).toContain(s);
    }
    expect(await countRows()).toBe(before);
  });

  it('says so with 503 when the market source cannot list its pairs, and adds nothing', async () => {
    // Binance selected but unreachable (a closed loopback port): the pair cannot be verified.
    const binance = await startTestServer({ MARKET_DATA: 'binance', BINANCE_BASE_URL: 'http://127.0.0.1:1', MARKET_TIMEOUT_MS: '2000' });
    try {
      const { accessToken } = await binance.signUp();
      const res = await fetch(`${binance.url}/api/symbols`, {
        method: 'POST',
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ symbol: 'BTC/USDT' }),
      });
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe('unavailable');
      expect((await binance.chatDb.query<{ n: number }>('select count(*)::int as n from public.user_symbols'))[0]!.n).toBe(0);
      expect(await (await fetch(`${binance.url}/api/config`)).json()).toMatchObject({ marketData: 'binance' });
    } finally {
      await binance.close();
    }
  });

  it('GET /api/config names the market kind, so the client can say the data is simulated', async () => {
    expect(await (await fetch(`${server.url}/api/config`)).json()).toMatchObject({ marketData: 'simulated' });
  });

  it('rejects a body that is not JSON, and one that is too large', async () => {
    expect((await call('', { method: 'POST', body: '{not json' })).status).toBe(400);
    const big = await call('', { method: 'POST', body: JSON.stringify({ symbol: 'x'.repeat(200_000) }) });
    expect(big.status).toBe(413);
    expect((await big.json()).error.code).toBe('payload_too_large');
  });

  it("cannot touch another user's symbols", async () => {
    const other = await server.signUp();
    const mine = await (await call('', { method: 'POST', body: JSON.stringify({ symbol: 'SOL/USDT' }) })).json();
    expect((await call(`/${mine.id}`, { method: 'DELETE' }, other.accessToken)).status).toBe(404);
    expect((await (await call('', {}, other.accessToken)).json()).symbols).toEqual([]);
  });

  it('requires a valid token', async () => {
    const res = await fetch(`${server.url}/api/symbols`);
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('token_missing');
    expect((await call('', {}, 'garbage')).status).toBe(401);
  });
});

describe('GET /healthz', () => {
  it('is 200 when both databases answer and 503 naming the one that does not', async () => {
    const server = await startTestServer();
    // The same app over a trading database that is not there.
    const deadTrading = createDb({ connectionString: 'postgresql://nobody:x@127.0.0.1:1/trading', max: 1 });
    const app = createApp({
      chatDb: server.chatDb,
      tradingDb: deadTrading,
      verifyToken: async () => {
        throw new Error('unused');
      },
      log: createLogger({ level: 'silent' }),
      publicConfig: { supabaseUrl: '', supabaseAnonKey: 'anon' },
      symbolDirectory: createSymbolDirectory({ kind: 'simulated' }),
    });
    try {
      const ok = await fetch(`${server.url}/healthz`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ status: 'ok', checks: { chat: { ok: true }, trading: { ok: true } }, providers: { ok: true } });

      const down = await app.request('/healthz');
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ status: 'unavailable', failed: ['trading'], checks: { chat: { ok: true }, trading: { ok: false } } });
    } finally {
      await deadTrading.close();
      await server.close();
    }
  });
});
