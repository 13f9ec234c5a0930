import type { ServerResponse } from 'node:http';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabases } from '../../test/databases';
import { FIXTURE_NOW, KLINES_BTCUSDT_1H } from './fixtures/binance-klines';
import { captureLog, sendJson, startLoopback, type Loopback } from './fixtures/loopback-server';
import { throttledError } from './http';
import { createMarketPauses, pausedUntilOf } from './market-pauses';
import { createMarketSource, type MarketSource } from './market-source';

// Two workers, each with its own pool and its own memory, as two processes would have:
// only what the database holds can reach the other one.

let dbs: Awaited<ReturnType<typeof createMigratedDatabases>>;
const pools: pg.Pool[] = [];
let server: Loopback | null = null;

beforeAll(async () => {
  dbs = await createMigratedDatabases();
});
afterEach(async () => {
  await server?.close();
  server = null;
  const pool = new pg.Pool({ connectionString: dbs.tradingUrl, max: 1 });
  await pool.query('delete from public.market_pauses');
  await pool.end();
});
afterAll(async () => {
  await Promise.all(pools.splice(0).map((p) => p.end()));
  await dbs?.drop();
});

/** Binance answering each request with the next reply in `replies`, klines once they run out. */
async function binance(replies: Array<(res: ServerResponse) => void>): Promise<Loopback> {
  server = await startLoopback((_req, res) => (replies.shift() ?? ((r) => sendJson(r, 200, KLINES_BTCUSDT_1H)))(res));
  return server;
}
const tooMany = (retryAfter?: string) => (res: ServerResponse) =>
  sendJson(res, 429, { code: -1003, msg: 'Too many requests; current limit of IP is 6000 request weight per 1 MINUTE.' }, retryAfter ? { 'retry-after': retryAfter } : {});

function worker(url: string, defaultPauseMs?: number): MarketSource {
  const pool = new pg.Pool({ connectionString: dbs.tradingUrl, max: 2 });
  pools.push(pool);
  const pauses = createMarketPauses({ sql: pool, refreshMs: 50, defaultPauseMs, log: captureLog() });
  return createMarketSource({ provider: 'binance', binance: { baseUrl: url }, now: () => FIXTURE_NOW, timeoutMs: 2000, pauses });
}

const fetchBtc = (source: MarketSource) => source.fetchCandles('BTC/USDT', '1h', { limit: 3 });
const rejection = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected the call to be refused');
    },
    (err: unknown) => err,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a throttled market provider', () => {
  it("is left alone by every worker until its Retry-After has passed: no request reaches it meanwhile, from the worker told or any other", async () => {
    const { url, requests } = await binance([(res) => sendJson(res, 200, KLINES_BTCUSDT_1H), tooMany('3')]);
    const a = worker(url);
    const b = worker(url);

    expect(await fetchBtc(b)).toHaveLength(3); // b has read "no pause" before a is throttled
    const told = Date.now();
    const throttled = await rejection(fetchBtc(a));
    expect(String(throttled)).toMatch(/rate limited \(HTTP 429\); retry after 3 s.*binance is paused for every worker until/);
    const until = pausedUntilOf(throttled)!;
    expect(until - told).toBeGreaterThan(2500);
    expect(until - told).toBeLessThan(3500);
    expect(requests).toHaveLength(2);

    await sleep(100); // past b's refresh interval
    for (const source of [a, b, a, b]) expect(pausedUntilOf(await rejection(fetchBtc(source)))).toBeGreaterThan(Date.now());
    expect(requests).toHaveLength(2);

    await sleep(until - Date.now() + 50);
    expect(await fetchBtc(b)).toHaveLength(3);
    expect(await fetchBtc(a)).toHaveLength(3);
    expect(requests).toHaveLength(4);
  });

  it('pauses for the default when the 429 names no wait, and a later, shorter throttle never shortens a pause; other failures pause nothing', async () => {
    const { url, requests } = await binance([(res) => sendJson(res, 500, 'upstream error'), tooMany()]);
    const a = worker(url, 5000);
    const b = worker(url, 5000);
    // A third worker that read "no pause" before b is throttled and does not read again for a minute.
    const late = new pg.Pool({ connectionString: dbs.tradingUrl, max: 1 });
    pools.push(late);
    const c = createMarketPauses({ sql: late, refreshMs: 60_000 });
    expect(await c.around('binance', async () => 'called')).toBe('called');

    expect(pausedUntilOf(await rejection(fetchBtc(a)))).toBeNull(); // a 500: an ordinary failure
    const told = Date.now();
    const until = pausedUntilOf(await rejection(fetchBtc(b)))!;
    expect(until - told).toBeGreaterThan(4000);
    expect(until - told).toBeLessThan(5500);
    expect(requests).toHaveLength(2);

    // c's request, sent before it heard of the pause, is throttled too, with a wait of 100 ms.
    const shorter = pausedUntilOf(await rejection(c.around('binance', () => Promise.reject(throttledError('binance', 429, 100, '')))))!;
    expect(shorter).toBeGreaterThan(until - 200);
    const { rows } = await late.query<{ ms: number }>(`select extract(epoch from until - now())::float8 * 1000 as ms from public.market_pauses where source = 'binance'`);
    expect(rows[0]!.ms).toBeGreaterThan(3000);
    await sleep(100); // past a's refresh interval
    expect(pausedUntilOf(await rejection(fetchBtc(a)))).toBeGreaterThan(Date.now() + 3000);
    expect(requests).toHaveLength(2);
  });
});
