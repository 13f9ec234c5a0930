import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors';
import { createBinanceMarket } from './binance';
import { FIRST_OPEN, FIXTURE_NOW, H, KLINES_BTCUSDT_1H } from './fixtures/binance-klines';
import { captureLog, sendJson, startLoopback, type Handler, type Loopback } from './fixtures/loopback-server';
import { throttleOf } from './http';

let server: Loopback | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function market(handler: Handler, log = captureLog()) {
  server = await startLoopback(handler);
  return { source: createBinanceMarket({ baseUrl: server.url, now: () => FIXTURE_NOW, log, timeoutMs: 2000 }), log, server };
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('binance klines', () => {
  it('requests /api/v3/klines with symbol, interval, limit and endTime and parses string prices', async () => {
    const { source, server } = await market((_req, res) => sendJson(res, 200, KLINES_BTCUSDT_1H));
    const candles = await source.fetchCandles('BTC/USDT', '1h', { limit: 10, endTime: FIRST_OPEN + 10 * H });

    const req = server.requests[0]!;
    expect(req.path).toBe('/api/v3/klines');
    expect(req.query.get('symbol')).toBe('BTCUSDT');
    expect(req.query.get('interval')).toBe('1h');
    expect(req.query.get('limit')).toBe('11');
    expect(req.query.get('endTime')).toBe(String(FIRST_OPEN + 10 * H));
    expect(candles).toHaveLength(4); // the open 04:00 candle is dropped
    expect(candles[0]).toEqual({ openTime: FIRST_OPEN, open: 61130.99, high: 61350, low: 60877, close: 61242.01, volume: 1203.52771 });
    expect(candles.map((c) => c.openTime)).toEqual([0, 1, 2, 3].map((i) => FIRST_OPEN + i * H));
  });

  it('returns only the newest `limit` closed candles', async () => {
    const { source, server } = await market((_req, res) => sendJson(res, 200, KLINES_BTCUSDT_1H));
    const candles = await source.fetchCandles('BTC/USDT', '1h', { limit: 2 });
    expect(server.requests[0]!.query.get('limit')).toBe('3');
    expect(server.requests[0]!.query.has('endTime')).toBe(false);
    expect(candles.map((c) => c.openTime)).toEqual([FIRST_OPEN + 2 * H, FIRST_OPEN + 3 * H]);
  });

  it("takes a candle as closed only once Binance's clock says so too: a worker clock running ahead does not store the candle Binance still has open", async () => {
    // Our clock: 05:00:02, the 04:00 candle is over. Binance's (Date header): 04:59:59, it is not.
    const ahead = FIRST_OPEN + 5 * H + 2000;
    const binanceDate = new Date(FIRST_OPEN + 5 * H - 1000).toUTCString();
    server = await startLoopback((_req, res) => sendJson(res, 200, KLINES_BTCUSDT_1H, { date: binanceDate }));
    const skewed = createBinanceMarket({ baseUrl: server.url, now: () => ahead, timeoutMs: 2000 });
    expect((await skewed.fetchCandles('BTC/USDT', '1h', { limit: 10 })).map((c) => c.openTime)).toEqual([0, 1, 2, 3].map((i) => FIRST_OPEN + i * H));

    // Once Binance's clock is past the candle's end, it is final.
    await server.close();
    server = await startLoopback((_req, res) => sendJson(res, 200, KLINES_BTCUSDT_1H, { date: new Date(FIRST_OPEN + 5 * H).toUTCString() }));
    const agreed = createBinanceMarket({ baseUrl: server.url, now: () => ahead, timeoutMs: 2000 });
    expect((await agreed.fetchCandles('BTC/USDT', '1h', { limit: 10 })).map((c) => c.openTime)).toEqual([0, 1, 2, 3, 4].map((i) => FIRST_OPEN + i * H));
  });

  it('logs and skips malformed rows instead of returning them', async () => {
    const rows = KLINES_BTCUSDT_1H.map((r) => [...r]);
    rows[1]![2] = 'not-a-number'; // high
    rows[2]![3] = '61600.00000000'; // low above high
    const { source, log } = await market((_req, res) => sendJson(res, 200, [...rows, { openTime: 1 }, [FIRST_OPEN]]));
    const candles = await source.fetchCandles('BTC/USDT', '1h', { limit: 10 });
    expect(candles.map((c) => c.openTime)).toEqual([FIRST_OPEN, FIRST_OPEN + 3 * H]);
    expect(log.entries.length).toBeGreaterThanOrEqual(3);
    expect(log.entries.every((e) => /malformed/.test(e.msg))).toBe(true);
  });

  it('rejects rows whose closeTime does not match the interval (a wrong-interval response)', async () => {
    const rows = KLINES_BTCUSDT_1H.slice(0, 2).map((r) => [...r]);
    rows[0]![6] = FIRST_OPEN + 60_000 - 1; // a 1m candle in a 1h response
    const { source, log } = await market((_req, res) => sendJson(res, 200, rows));
    const candles = await source.fetchCandles('BTC/USDT', '1h', { limit: 10 });
    expect(candles.map((c) => c.openTime)).toEqual([FIRST_OPEN + H]);
    expect(log.entries).toHaveLength(1);
  });

  const errorCases: Array<{ name: string; status: number; body: unknown; headers?: Record<string, string>; code: string; message: RegExp; retryMs?: number }> = [
    { name: 'invalid symbol', status: 400, body: { code: -1121, msg: 'Invalid symbol.' }, code: 'invalid_symbol', message: /Invalid symbol\. \(code -1121\)/ },
    { name: 'bad interval', status: 400, body: { code: -1120, msg: 'Invalid interval.' }, code: 'provider_unavailable', message: /HTTP 400: Invalid interval/ },
    { name: 'rate limited', status: 429, body: { code: -1003, msg: 'Too many requests.' }, headers: { 'retry-after': '7' }, code: 'provider_unavailable', message: /rate limited \(HTTP 429\); retry after 7 s/, retryMs: 7000 },
    { name: 'IP banned', status: 418, body: { code: -1003, msg: 'Way too many requests; IP banned.' }, headers: { 'retry-after': '120' }, code: 'provider_unavailable', message: /HTTP 418/, retryMs: 120_000 },
    { name: 'HTML 502 page', status: 502, body: '<html><body>Bad Gateway</body></html>', code: 'provider_unavailable', message: /HTTP 502: <html><body>Bad Gateway/ },
    { name: '200 with an object', status: 200, body: { unexpected: true }, code: 'provider_unavailable', message: /expected an array of klines/ },
  ];
  it.each(errorCases)('maps $name to a clear AppError', async ({ status, body, headers, code, message, retryMs }) => {
    const { source } = await market((_req, res) => sendJson(res, status, body, headers));
    const err = await failure(source.fetchCandles('BTC/USDT', '1h', { limit: 5 }));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
    expect(throttleOf(err)?.retryAfterMs ?? null).toBe(retryMs ?? null);
  });

  it('turns a refused connection and a timeout into provider_unavailable', async () => {
    const refused = createBinanceMarket({ baseUrl: 'http://127.0.0.1:1', now: () => FIXTURE_NOW, timeoutMs: 1000 });
    expect((await failure(refused.fetchCandles('BTC/USDT', '1h', { limit: 1 }))).message).toMatch(/binance: klines BTC\/USDT 1h failed/);

    server = await startLoopback(() => undefined); // never answers
    const slow = createBinanceMarket({ baseUrl: server.url, now: () => FIXTURE_NOW, timeoutMs: 200 });
    const err = await failure(slow.fetchCandles('BTC/USDT', '1h', { limit: 1 }));
    expect(err.code).toBe('provider_unavailable');
    expect(err.message).toMatch(/timed out after 200 ms/);
  });
});
