import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors';
import { createCryptometerClient, createCryptometerMarket, cryptometerTime } from './cryptometer';
import { captureLog, sendJson, startLoopback, type Handler, type Loopback } from './fixtures/loopback-server';
import { throttleOf } from './http';

const KEY = 'test-key-0123456789';
const H = 3_600_000;
const T0 = Date.UTC(2024, 5, 10, 0);

// Recorded-style envelopes: flags are strings, numbers sometimes strings.
const ok = (data: unknown[]) => ({ success: 'true', error: 'false', data });
const TREND = ok([{ trend_score: 63, buy_pressure: 58.2, sell_pressure: 41.8, timestamp: '2024-06-10 00:00:00' }]);
const LONG_SHORTS = ok([{ longs: '51.3', shorts: '48.7' }]);
const LIQ_V2 = ok([{ binance: { longs: 1520334.5, shorts: 320001.25 }, bybit: { longs: '801002', shorts: '99000.5' } }]);
const RAPID = ok([{ pair: 'WLD-USDT', exchange: 'binance', change_detected: 5.17, side: 'PUMP', timestamp: 1718000000 }]);
const OHLCV = ok([
  { timestamp: T0 / 1000, open: 67010.1, high: 67220, low: 66900.5, close: 67150, volume: 812.4, buy: 410.2, sell: 402.2 },
  { timestamp: (T0 + H) / 1000, open: '67150', high: '67400.5', low: '67100', close: '67390.2', volume: '701.0', buy: 380, sell: 321 },
  { timestamp: (T0 + 2 * H) / 1000, open: 67390.2, high: 67300, low: 67350, close: 67200, volume: 650 }, // high < low: malformed
  { timestamp: (T0 + 3 * H) / 1000, open: 67200, high: 67260, low: 67010, close: 67050, volume: 590 },
  { timestamp: (T0 + 4 * H) / 1000, open: 67050, high: 67100, low: 67000, close: 67080, volume: 12 }, // still open at NOW
]);
const NOW = T0 + 4 * H + 10 * 60_000;

let server: Loopback | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function client(handler: Handler, rateLimit?: { points: number; durationSeconds: number }) {
  server = await startLoopback(handler);
  return { cm: createCryptometerClient({ apiKey: KEY, baseUrl: server.url, rateLimit, timeoutMs: 2000 }), server };
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as Error).message).not.toContain(KEY); // the key never leaks into errors
  return err as AppError;
}

describe('cryptometer client', () => {
  it('calls <endpoint>/ with a trailing slash, api_key and the endpoint’s own parameter names', async () => {
    const bodies: Record<string, unknown> = {
      '/trend-indicator-v3/': TREND,
      '/long-shorts-data/': LONG_SHORTS,
      '/liquidation-data-v2/': LIQ_V2,
      '/rapid-movements/': RAPID,
      '/open-interest/': ok([{ open_interest: '8123456789.5', market_pair: 'BTCUSDT' }]),
    };
    const { cm, server } = await client((req, res) => sendJson(res, bodies[req.path] ? 200 : 403, bodies[req.path] ?? { success: 'false', message: 'Not found' }));

    const trend = await cm.trendIndicatorV3();
    expect(trend[0]).toMatchObject({ trend_score: 63, buy_pressure: 58.2, sell_pressure: 41.8 });
    const ls = await cm.longShortsData({ exchange: 'binance_futures', symbol: 'BTC', timeframe: '1h' });
    expect(ls[0]).toMatchObject({ longs: 51.3, shorts: 48.7 }); // numeric strings coerced
    const liq = await cm.liquidationDataV2({ symbol: 'BTC' });
    expect(liq[0]?.bybit).toMatchObject({ longs: 801002, shorts: 99000.5 });
    expect((await cm.rapidMovements())[0]).toMatchObject({ side: 'PUMP', change_detected: 5.17 });
    expect((await cm.openInterest({ exchange: 'binance_futures', marketPair: 'BTCUSDT' }))[0]).toMatchObject({ market_pair: 'BTCUSDT' });

    const [r0, r1, r2, , r4] = server.requests;
    expect(r0!.path).toBe('/trend-indicator-v3/');
    expect(r0!.query.get('api_key')).toBe(KEY);
    expect(Object.fromEntries(r1!.query)).toEqual({ api_key: KEY, e: 'binance_futures', symbol: 'btc', timeframe: '1h' });
    expect(Object.fromEntries(r2!.query)).toEqual({ api_key: KEY, symbol: 'btc' });
    expect(Object.fromEntries(r4!.query)).toEqual({ api_key: KEY, e: 'binance_futures', market_pair: 'BTCUSDT' });
  });

  const errorCases: Array<{ name: string; status: number; body: unknown; message: RegExp; retryMs?: number }> = [
    { name: 'HTTP 403 with a message', status: 403, body: { success: 'false', error: 'true', message: 'This endpoint is for paid members only.' }, message: /HTTP 403: This endpoint is for paid members only\. \(wrong path or parameter name, or a paid endpoint/ },
    { name: 'string-boolean failure on HTTP 200', status: 200, body: { success: 'false', error: 'true', message: 'Invalid pair' }, message: /request rejected: Invalid pair/ },
    { name: 'failure carried in `error`', status: 200, body: { success: 'false', error: 'No data found' }, message: /request rejected: No data found/ },
    { name: 'real booleans instead of strings', status: 200, body: { success: true, error: false, data: [] }, message: /invalid envelope/ },
    { name: 'data not an array', status: 200, body: { success: 'true', error: 'false', data: { trend_score: 1 } }, message: /invalid envelope/ },
    { name: 'non-JSON body', status: 200, body: '<html>maintenance</html>', message: /invalid envelope: <html>maintenance/ },
    { name: 'HTTP 429', status: 429, body: { message: 'Too Many Requests' }, message: /rate limited \(HTTP 429\).*Too Many Requests/ },
  ];
  it.each(errorCases)('rejects $name with a clear error', async ({ status, body, message }) => {
    const { cm } = await client((_req, res) => sendJson(res, status, body, status === 429 ? { 'retry-after': '3' } : {}));
    const err = await failure(cm.trendIndicatorV3());
    expect(err.code).toBe('provider_unavailable');
    expect(err.message).toMatch(message);
    if (status === 429) expect(throttleOf(err)?.retryAfterMs).toBe(3000);
  });

  it('rejects data rows that do not match the endpoint schema', async () => {
    const { cm } = await client((_req, res) => sendJson(res, 200, ok([{ longs: 'n/a', shorts: 5 }])));
    expect((await failure(cm.longShortsData({ exchange: 'binance_futures', symbol: 'btc', timeframe: '1h' }))).message).toMatch(/unexpected data\[0\]/);
  });

  it('queues requests client-side to stay within the rate budget', async () => {
    const { cm, server } = await client((_req, res) => sendJson(res, 200, TREND), { points: 3, durationSeconds: 1 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 7 }, () => cm.trendIndicatorV3()));
    const elapsed = Date.now() - started;
    expect(server.requests).toHaveLength(7);
    // 3 now, 3 after ~1 s, 1 after ~2 s: no more than 3 requests inside any one-second window.
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    const times = server.requests.map((r) => r.at).sort((a, b) => a - b);
    // Measured where the server receives them: a request delayed on its way in makes a window look up to ~100 ms short.
    for (let i = 3; i < times.length; i++) expect(times[i]! - times[i - 3]!).toBeGreaterThanOrEqual(900);
  });
});

describe('cryptometer market source (ohlcv)', () => {
  it('maps ohlcv rows to closed, validated candles and cuts the window client-side', async () => {
    server = await startLoopback((_req, res) => sendJson(res, 200, OHLCV));
    const log = captureLog();
    const source = createCryptometerMarket({ apiKey: KEY, baseUrl: server.url, exchange: 'binance', now: () => NOW, log });
    const candles = await source.fetchCandles('BTC/USDT', '1h', { limit: 10 });

    expect(Object.fromEntries(server.requests[0]!.query)).toEqual({ api_key: KEY, e: 'binance', pair: 'btc-usdt', timeframe: '1h' });
    expect(server.requests[0]!.path).toBe('/ohlcv/');
    expect(candles.map((c) => c.openTime)).toEqual([T0, T0 + H, T0 + 3 * H]);
    expect(candles[1]).toEqual({ openTime: T0 + H, open: 67150, high: 67400.5, low: 67100, close: 67390.2, volume: 701 });
    expect(log.entries).toHaveLength(1);

    const windowed = await source.fetchCandles('BTC/USDT', '1h', { limit: 1, endTime: T0 + 2 * H });
    expect(windowed.map((c) => c.openTime)).toEqual([T0 + H]);
  });

  it.each([
    [1718000000, 1718000000000],
    [1718000000000, 1718000000000],
    ['1718000000', 1718000000000],
    ['2024-06-10 06:13:20', Date.UTC(2024, 5, 10, 6, 13, 20)],
    ['2024-06-10T06:13:20Z', Date.UTC(2024, 5, 10, 6, 13, 20)],
  ])('reads timestamp %j as epoch ms %d', (input, expected) => {
    expect(cryptometerTime(input)).toBe(expected);
  });
});
