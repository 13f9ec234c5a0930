import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURE_NOW, KLINES_BTCUSDT_1H } from './fixtures/binance-klines';
import { sendJson, startLoopback, type Loopback } from './fixtures/loopback-server';
import { createMarketSource } from './market-source';

let servers: Loopback[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('createMarketSource', () => {
  it('builds the simulated source by default, deterministic per seed', async () => {
    const a = createMarketSource({ seed: 3, now: () => FIXTURE_NOW });
    const b = createMarketSource({ name: 'simulated', seed: 3 }, { now: () => FIXTURE_NOW });
    expect(a.name).toBe('simulated');
    expect(a.fetchLiquidationClusters).toBeUndefined();
    expect(await a.fetchCandles('BTC/USDT', '1h', { limit: 5 })).toEqual(await b.fetchCandles('BTC/USDT', '1h', { limit: 5 }));
  });

  it('builds the Binance source against the configured base URL', async () => {
    const binance = await startLoopback((_req, res) => sendJson(res, 200, KLINES_BTCUSDT_1H));
    servers.push(binance);
    const source = createMarketSource({ provider: 'binance', binance: { baseUrl: binance.url } }, { now: () => FIXTURE_NOW });
    expect(source.name).toBe('binance');
    expect(await source.fetchCandles('BTC/USDT', '1h', { limit: 10 })).toHaveLength(4);
    expect(binance.requests).toHaveLength(1);
  });

  it('composes KingFisher clusters onto any candle source when configured', async () => {
    const kf = await startLoopback((req, res) => {
      if (req.path === '/api/auth/login') return sendJson(res, 200, { token: 't' });
      sendJson(res, 200, { result: { long: { prices: [[60000, 60100]], strengths: [5] }, short: { prices: [70000], strengths: [10] } } });
    });
    servers.push(kf);
    const source = createMarketSource({ provider: 'simulated', kingfisher: { baseUrl: kf.url, login: 'u', password: 'p', type: 'high_leverage' } }, { now: () => FIXTURE_NOW });
    expect(source.name).toBe('simulated+kingfisher');
    const clusters = await source.fetchLiquidationClusters!('BTC/USDT', 65000);
    expect(clusters.map((c) => [c.side, c.strength, c.source])).toEqual([
      ['long', 0.5, 'kingfisher'],
      ['short', 1, 'kingfisher'],
    ]);
    expect(JSON.parse(kf.requests[1]!.body)).toMatchObject({ pair: 'BTC/USDT', type: 'high_leverage' });
    expect(await source.fetchCandles('BTC/USDT', '1h', { limit: 2 })).toHaveLength(2);
  });

  it.each([
    [{ provider: 'cryptometer' }, /API key is required/],
    [{ provider: 'kraken' }, /provider/],
    [{ provider: 'binance', binance: { baseUrl: 'ftp://x' } }, /baseUrl/],
    [{ kingfisher: { login: 'u', password: '' } }, /password/],
  ])('rejects invalid options %j', (options, message) => {
    expect(() => createMarketSource(options as never)).toThrow(message);
  });
});
