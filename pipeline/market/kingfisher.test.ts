import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors';
import { sendJson, startLoopback, type Handler, type Loopback } from './fixtures/loopback-server';
import { createKingfisherClient, parseKingfisherMap } from './kingfisher';

// Recorded-style latest map: per-side price bands ([low, high] or single levels) with parallel strengths.
const MAP = {
  result: {
    exchange: 'binance',
    pair: 'BTC/USDT',
    type: 'all_leverage',
    long: { prices: [[59800, 60000], 61250, [62100, 62300]], strengths: [820, 1000, 0] },
    short: { prices: [[64500, 64700], [66000, 66400]], strengths: [600, 250] },
    cumulated: { long: 183_400_000, short: 97_250_000 },
  },
};

let server: Loopback | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** A KingFisher double: tokens are issued by login; `valid` decides which ones the map accepts. */
async function kingfisher(opts: { expireFirstToken?: boolean; rejectAll?: boolean; badLogin?: boolean; mapBody?: unknown } = {}) {
  let issued = 0;
  const valid = new Set<string>();
  const handler: Handler = (req, res) => {
    if (req.method === 'POST' && req.path === '/api/auth/login') {
      const body = JSON.parse(req.body) as { login?: string; password?: string };
      if (opts.badLogin || body.password !== 's3cret') return sendJson(res, 401, { message: 'Invalid credentials' });
      issued++;
      const token = `tok-${issued}`;
      if (!(opts.expireFirstToken && issued === 1) && !opts.rejectAll) valid.add(token);
      return sendJson(res, 200, { token });
    }
    if (req.method === 'POST' && req.path === '/api/private/map/latest') {
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (!valid.has(token)) return sendJson(res, 401, { message: 'Token expired' });
      return sendJson(res, 200, opts.mapBody ?? MAP);
    }
    sendJson(res, 404, { message: 'not found' });
  };
  server = await startLoopback(handler);
  const client = createKingfisherClient({ baseUrl: server.url, login: 'zmarty', password: opts.badLogin ? 'wrong' : 's3cret', timeoutMs: 2000 });
  return { client, server };
}

const paths = (s: Loopback) => s.requests.map((r) => r.path.replace('/api/', ''));

describe('kingfisher', () => {
  it('logs in once, posts {exchange, pair, type} with the bearer token and maps clusters', async () => {
    const { client, server } = await kingfisher();
    const map = await client.fetchLatestMap('BTC/USDT', 63000);
    await client.fetchLiquidationClusters('BTC/USDT', 63000);

    expect(paths(server)).toEqual(['auth/login', 'private/map/latest', 'private/map/latest']);
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ login: 'zmarty', password: 's3cret' });
    expect(JSON.parse(server.requests[1]!.body)).toEqual({ exchange: 'binance', pair: 'BTC/USDT', type: 'all_leverage' });
    expect(server.requests[1]!.headers.authorization).toBe('Bearer tok-1');
    expect(map.cumulated).toEqual({ long: 183_400_000, short: 97_250_000 });
    expect(map.clusters).toEqual([
      { side: 'long', priceLow: 59800, priceHigh: 60000, strength: 0.82, source: 'kingfisher' },
      { side: 'long', priceLow: 61250, priceHigh: 61250, strength: 1, source: 'kingfisher' },
      { side: 'short', priceLow: 64500, priceHigh: 64700, strength: 0.6, source: 'kingfisher' },
      { side: 'short', priceLow: 66000, priceHigh: 66400, strength: 0.25, source: 'kingfisher' },
    ]);
  });

  it('re-logs in exactly once when the token has expired (401) and retries', async () => {
    const { client, server } = await kingfisher({ expireFirstToken: true });
    const clusters = await client.fetchLiquidationClusters('BTC/USDT', 63000);
    expect(clusters).toHaveLength(4);
    expect(paths(server)).toEqual(['auth/login', 'private/map/latest', 'auth/login', 'private/map/latest']);
    expect(server.requests[3]!.headers.authorization).toBe('Bearer tok-2');
  });

  it('gives up after one re-login when the map keeps answering 401', async () => {
    const { client, server } = await kingfisher({ rejectAll: true });
    const err = await client.fetchLiquidationClusters('BTC/USDT', 63000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).message).toMatch(/unauthorized even after re-login/);
    expect(paths(server)).toEqual(['auth/login', 'private/map/latest', 'auth/login', 'private/map/latest']);
  });

  it('reports a failed login without sending the password anywhere else', async () => {
    const { client, server } = await kingfisher({ badLogin: true });
    const err = (await client.fetchLiquidationClusters('BTC/USDT', 63000).catch((e: unknown) => e)) as AppError;
    expect(err.code).toBe('provider_unavailable');
    expect(err.message).toMatch(/login failed with HTTP 401: Invalid credentials/);
    expect(err.message).not.toContain('wrong');
    expect(paths(server)).toEqual(['auth/login']);
  });

  it('shares one login between concurrent requests', async () => {
    const { client, server } = await kingfisher();
    await Promise.all([client.fetchLiquidationClusters('BTC/USDT', 63000), client.fetchLiquidationClusters('ETH/USDT', 3000)]);
    expect(paths(server).filter((p) => p === 'auth/login')).toHaveLength(1);
  });

  it('rejects a map it cannot read instead of returning nothing', async () => {
    const { client } = await kingfisher({ mapBody: { result: { long: { prices: [60000, 61000], strengths: [1] } } } });
    await expect(client.fetchLiquidationClusters('BTC/USDT', 63000)).rejects.toThrow(/2 prices but 1 strengths/);
  });
});

describe('parseKingfisherMap', () => {
  it.each([
    ['side-less levels, split around the last price', { prices: [61000, [64000, 64200]], strengths: [0.5, 0.25] }, [['long', 1], ['short', 0.5]]],
    ['bare payload under data', { data: { shorts: { prices: [70000], strengths: [3] } } }, [['short', 1]]],
  ] as const)('%s', (_name, body, expected) => {
    const { clusters } = parseKingfisherMap(body, 63000);
    expect(clusters.map((c) => [c.side, c.strength])).toEqual(expected);
  });

  it.each([
    ['negative prices', { long: { prices: [-1], strengths: [1] } }],
    ['strings instead of numbers', { long: { prices: ['60000'], strengths: [1] } }],
    ['not an object', 'maintenance'],
  ])('rejects %s', (_name, body) => {
    expect(() => parseKingfisherMap(body, 63000)).toThrow(AppError);
  });
});
