import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignalRow } from '../../common/events';
import { connectSocket, type ClientSocket } from '../socket-client';
import { pipelineSignal, startStack, type E2eStack } from './stack';

/**
 * From "a trader adds a pair" to "a signal on their socket", through the
 * public interfaces only: REST, the outbox → webhook → watchers sync, the
 * worker's queues on the simulated market, LISTEN/NOTIFY push, Socket.IO.
 */
describe('signal flow end to end', () => {
  let stack: E2eStack;
  const sockets: ClientSocket[] = [];
  beforeAll(async () => {
    stack = await startStack({ client: false });
  }, 120_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    await stack.close();
  });

  const addSymbol = (token: string, symbol: string) =>
    fetch(`${stack.server.url}/api/symbols`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ symbol }),
    });
  const subscribe = (socket: ClientSocket, symbols: string[], sinceId?: number) =>
    new Promise<{ ok: boolean; data?: { joined: string[]; refused: string[] } }>((resolve) =>
      socket.emit('signals:subscribe', { symbols, sinceId }, resolve as never),
    );

  it('adds a watcher within 1 s, computes indicators, risk, clusters and a signal, and pushes it only to subscribers', { timeout: 60_000 }, async () => {
    const alice = await stack.server.signUp();
    const bob = await stack.server.signUp();
    const aliceSocket = await connectSocket(stack.server.url, alice.accessToken);
    const aliceIdle = await connectSocket(stack.server.url, alice.accessToken);
    const bobSocket = await connectSocket(stack.server.url, bob.accessToken);
    sockets.push(aliceSocket, aliceIdle, bobSocket);
    const received = { alice: [] as SignalRow[], idle: [] as SignalRow[], bob: [] as SignalRow[] };
    aliceSocket.on('signal:new', (s) => received.alice.push(s));
    aliceIdle.on('signal:new', (s) => received.idle.push(s));
    bobSocket.on('signal:new', (s) => received.bob.push(s));

    const added = Date.now();
    expect((await addSymbol(alice.accessToken, 'ETH/USDT')).status).toBe(201);
    await expect
      .poll(async () => (await stack.server.tradingDb.query(`select subscribers from public.watchers where symbol = 'ETH/USDT' and timeframe = '1h'`))[0], {
        timeout: 1000,
        interval: 25,
      })
      .toEqual({ subscribers: 1 });
    expect(Date.now() - added).toBeLessThan(1000);

    // Bob does not watch ETH/USDT: refused, whatever he asks for.
    expect(await subscribe(bobSocket, ['ETH/USDT'], 0)).toEqual({ ok: true, data: { joined: [], refused: ['ETH/USDT'] } });
    // sinceId 0: whatever was stored before the subscription is replayed, the rest arrives live.
    expect(await subscribe(aliceSocket, ['ETH/USDT'], 0)).toEqual({ ok: true, data: { joined: ['ETH/USDT'], refused: [] } });

    const signal = await pipelineSignal(stack, 'ETH/USDT');
    const [analysis] = await stack.server.tradingDb.query<{ indicators: number; risk: number; clusters: number; candles: number }>(
      `select (select count(*)::int from public.indicators where symbol = 'ETH/USDT') as indicators,
              (select count(*)::int from public.risk_metric where symbol = 'ETH/USDT') as risk,
              (select count(*)::int from public.liq_clusters where symbol = 'ETH/USDT') as clusters,
              (select count(*)::int from public.candles where symbol = 'ETH/USDT') as candles`,
    );
    expect(analysis!.candles).toBeGreaterThanOrEqual(200);
    expect(analysis!.indicators).toBeGreaterThan(0);
    expect(analysis!.risk).toBeGreaterThan(0);
    expect(analysis!.clusters).toBeGreaterThan(0);
    const [values] = await stack.server.tradingDb.query<{ n: number }>(
      `select count(*)::int as n from public.indicators, jsonb_object_keys(values) where symbol = 'ETH/USDT' and candle_time = $1`,
      [signal.candle_time],
    );
    expect(values!.n).toBe(21);

    await expect.poll(() => received.alice.map((s) => s.id), { timeout: 5000 }).toContain(signal.id);
    const pushed = received.alice.find((s) => s.id === signal.id)!;
    expect(pushed).toMatchObject({ symbol: 'ETH/USDT', timeframe: '1h', direction: signal.direction, score: signal.score });
    await new Promise((r) => setTimeout(r, 300));
    expect(received.bob).toEqual([]);
    expect(received.idle).toEqual([]);
    // Each signal once, in id order.
    const ids = received.alice.map((s) => s.id);
    expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
  });
});
