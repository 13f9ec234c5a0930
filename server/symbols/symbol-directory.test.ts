import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors';
import { sendJson, startLoopback, type Handler, type Loopback } from '../../pipeline/market/fixtures/loopback-server';
import { coinlistPair, createSymbolDirectory, SIMULATED_SYMBOLS } from './symbol-directory';
import { editDistance, suggestSymbols } from './symbol-suggestions';

let server: Loopback | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});
const serve = async (handler: Handler) => (server = await startLoopback(handler));

/** GET /api/v3/exchangeInfo as Binance documents it (fields we do not read included, trimmed). */
const EXCHANGE_INFO = {
  timezone: 'UTC',
  serverTime: 1_718_000_000_000,
  rateLimits: [{ rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 }],
  exchangeFilters: [],
  symbols: [
    { symbol: 'BTCUSDT', status: 'TRADING', baseAsset: 'BTC', baseAssetPrecision: 8, quoteAsset: 'USDT', quotePrecision: 8, orderTypes: ['LIMIT', 'MARKET'], isSpotTradingAllowed: true, filters: [], permissions: [], permissionSets: [['SPOT']] },
    { symbol: 'ETHUSDT', status: 'TRADING', baseAsset: 'ETH', baseAssetPrecision: 8, quoteAsset: 'USDT', quotePrecision: 8, orderTypes: ['LIMIT'], isSpotTradingAllowed: true, filters: [], permissions: [], permissionSets: [['SPOT']] },
    { symbol: 'ETHBTC', status: 'TRADING', baseAsset: 'ETH', baseAssetPrecision: 8, quoteAsset: 'BTC', quotePrecision: 8, orderTypes: ['LIMIT'], isSpotTradingAllowed: true, filters: [], permissions: [], permissionSets: [['SPOT']] },
    { symbol: '1000PEPEUSDT', status: 'TRADING', baseAsset: '1000PEPE', baseAssetPrecision: 8, quoteAsset: 'USDT', quotePrecision: 8, orderTypes: ['LIMIT'], isSpotTradingAllowed: true, filters: [], permissions: [], permissionSets: [['SPOT']] },
    { symbol: 'LUNAUSDT', status: 'BREAK', baseAsset: 'LUNA', baseAssetPrecision: 8, quoteAsset: 'USDT', quotePrecision: 8, orderTypes: ['LIMIT'], isSpotTradingAllowed: false, filters: [], permissions: [], permissionSets: [['SPOT']] },
  ],
};

describe('symbol directory: simulated market', () => {
  it('lists the documented majors and nothing else', async () => {
    const dir = createSymbolDirectory({ kind: 'simulated' });
    expect(SIMULATED_SYMBOLS).toContain('BTC/USDT');
    expect(await dir.check('BTC/USDT')).toEqual({ known: true });
    expect(await dir.check('SOL/USDC')).toEqual({ known: true });
    expect(await dir.check('FOO/BAR')).toEqual({ known: false, suggestions: [] });
    expect(await dir.check('XYZQ/USDT')).toEqual({ known: false, suggestions: [] });
    expect(await dir.check('ETH/USD')).toEqual({ known: false, suggestions: ['ETH/USDT', 'ETH/USDC', 'ETH/BTC'] });
  });
});

describe('symbol directory: binance exchangeInfo', () => {
  it('knows the TRADING pairs of /api/v3/exchangeInfo, refuses halted ones, and caches the list', async () => {
    const s = await serve((_req, res) => sendJson(res, 200, EXCHANGE_INFO));
    let clock = 0;
    const dir = createSymbolDirectory({ kind: 'binance', binance: { baseUrl: s.url }, ttlMs: 60_000, now: () => clock });
    const [a, b] = await Promise.all([dir.check('BTC/USDT'), dir.check('1000PEPE/USDT')]);
    expect(a).toEqual({ known: true });
    expect(b).toEqual({ known: true });
    expect(await dir.check('LUNA/USDT')).toEqual({ known: false, suggestions: [] });
    expect(await dir.check('ETH/USDC')).toEqual({ known: false, suggestions: ['ETH/USDT', 'ETH/BTC'] });
    expect(s.requests.map((r) => r.path)).toEqual(['/api/v3/exchangeInfo']);

    clock = 60_001; // expired: fetched again
    await dir.check('BTC/USDT');
    expect(s.requests).toHaveLength(2);
  });

  it('keeps the last good list when a refresh fails, and is unavailable with no list at all', async () => {
    let up = true;
    const s = await serve((_req, res) => (up ? sendJson(res, 200, EXCHANGE_INFO) : sendJson(res, 503, { code: -1001, msg: 'Internal error' })));
    let clock = 0;
    const dir = createSymbolDirectory({ kind: 'binance', binance: { baseUrl: s.url }, ttlMs: 1000, now: () => clock, log: { warn: () => undefined } });
    expect(await dir.check('ETH/BTC')).toEqual({ known: true });
    up = false;
    clock = 5000;
    expect(await dir.check('ETH/BTC')).toEqual({ known: true });
    expect(s.requests).toHaveLength(2);

    const cold = createSymbolDirectory({ kind: 'binance', binance: { baseUrl: s.url } });
    const err = await cold.check('BTC/USDT').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('unavailable');
  });
});

describe('symbol directory: cryptometer coinlist', () => {
  it('reads coinlist/ with the key and exchange, inside the string-flag envelope', async () => {
    const s = await serve((_req, res) =>
      sendJson(res, 200, { success: 'true', error: 'false', data: [{ pair: 'btc-usdt' }, { pair: 'ETH-USDT' }, 'SOLUSDT', { market_pair: 'DOGEUSDT' }, { nothing: 1 }] }),
    );
    const dir = createSymbolDirectory({ kind: 'cryptometer', cryptometer: { apiKey: 'cm-key', baseUrl: s.url, exchange: 'binance' } });
    for (const known of ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'DOGE/USDT']) expect(await dir.check(known)).toEqual({ known: true });
    expect(await dir.check('SOLL/USDT')).toEqual({ known: false, suggestions: ['SOL/USDT'] });
    const req = s.requests[0]!;
    expect(req.path).toBe('/coinlist/');
    expect(req.query.get('api_key')).toBe('cm-key');
    expect(req.query.get('e')).toBe('binance');
  });

  it('a rejected envelope ("success":"false") is no list: unavailable, and the key is not in the message', async () => {
    const s = await serve((_req, res) => sendJson(res, 403, { success: 'false', error: 'true', message: 'invalid api key' }));
    const dir = createSymbolDirectory({ kind: 'cryptometer', cryptometer: { apiKey: 'secret-cm-key', baseUrl: s.url } });
    const err = (await dir.check('BTC/USDT').catch((e: unknown) => e)) as AppError;
    expect(err.code).toBe('unavailable');
    expect(String(err.message) + String((err.cause as Error)?.message)).not.toContain('secret-cm-key');
  });

  it.each([
    ['btc-usdt', 'BTC/USDT'],
    ['ETH/BTC', 'ETH/BTC'],
    ['1000PEPEUSDT', '1000PEPE/USDT'],
    ['BTCFDUSD', 'BTC/FDUSD'],
    [{ symbol: 'xrp_usdt' }, 'XRP/USDT'],
    ['BTC', null],
    [42, null],
  ] as const)('coinlist entry %j is %s', (item, expected) => {
    expect(coinlistPair(item)).toBe(expected);
  });
});

describe('close suggestions', () => {
  it.each([
    ['BTC/USTD', ['BTC/USDT', 'BTC/USDC']],
    ['SOLL/USDT', ['SOL/USDT', 'SOL/USDC']],
    ['EHT/USDT', ['ETH/USDT', 'ETH/USDC']],
    ['FOO/BAR', []],
    ['XYZQ/USDT', []],
  ] as const)('%s → %j', (symbol, expected) => {
    expect(suggestSymbols(symbol, SIMULATED_SYMBOLS)).toEqual(expected);
  });

  it('counts a swap of two adjacent letters as one edit', () => {
    expect(editDistance('EHT', 'ETH')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
