import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import type { ClientToServerEvents, ServerToClientEvents, SignalRow, SocketData } from '../../common/events';
import { createLogger } from '../../common/logger';
import { createMigratedDatabases } from '../../test/databases';
import { registerSignalPush, type SignalPush } from './signal-push';
import { registerSignalHandlers } from './signal.handlers';

type Client = ClientSocket<ServerToClientEvents, ClientToServerEvents> & { received: SignalRow[] };

const log = createLogger({ level: 'silent' });
let dbs: Awaited<ReturnType<typeof createMigratedDatabases>>;
let chatDb: Db;
let tradingDb: Db;
let http: HttpServer;
let io: Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
let push: SignalPush;
let url: string;
let alice: string;
let bob: string;
const clients: Client[] = [];
let candleSeq = 0;
/** Every live broadcast of the push under test: its rows' ids and how its sockets were written. */
const broadcasts: Array<{ ids: number[]; direct: number; queued: number; delivered: number }> = [];

async function createUser(email: string, symbols: string[]): Promise<string> {
  const [user] = await chatDb.query<{ id: string }>('insert into auth.users (email) values ($1) returning id', [email]);
  for (const symbol of symbols) {
    await chatDb.query('insert into public.user_symbols (user_id, symbol, timeframe) values ($1, $2, $3)', [user!.id, symbol, '1h']);
  }
  return user!.id;
}

const REASONS = [{ indicator: 'rsi14', vote: 'long', weight: 1, detail: 'x' }];
const EDGE = { verdict: 'none', trades: 382, expectancyPct: -0.04, coinFlipMedianPct: -0.19, percentile: 62, window: 'the last 1,000 hours' };

async function insertSignal(symbol: string, reasons: unknown[] = REASONS): Promise<number> {
  const candleTime = new Date(Date.UTC(2024, 0, 1) + candleSeq++ * 3_600_000);
  const [row] = await tradingDb.query<{ id: number }>(
    `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons, doubling, edge)
     values ($1, '1h', $2, 'long', 70, 100.25, 95.5, 110, $3, $4, $5) returning id`,
    [symbol, candleTime, JSON.stringify(reasons), JSON.stringify({ recommended: false, blockedBy: 'cooldown', detail: 'd' }), JSON.stringify(EDGE)],
  );
  return row!.id;
}

async function client(userId: string): Promise<Client> {
  const socket = connect(url, { auth: { userId }, transports: ['websocket'], forceNew: true }) as Client;
  socket.received = [];
  socket.on('signal:new', (row) => socket.received.push(row));
  clients.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

const subscribe = (socket: Client, payload: { symbols: string[]; sinceId?: number }) =>
  new Promise<Parameters<Parameters<ClientToServerEvents['signals:subscribe']>[1]>[0]>((resolve) =>
    socket.emit('signals:subscribe', payload, resolve),
  );

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeAll(async () => {
  dbs = await createMigratedDatabases();
  chatDb = createDb({ connectionString: dbs.chatUrl, max: 4 });
  tradingDb = createDb({ connectionString: dbs.tradingUrl, max: 4 });
  alice = await createUser('alice@example.com', ['BTC/USDT', 'ETH/USDT']);
  bob = await createUser('bob@example.com', ['SOL/USDT']);

  http = createServer();
  io = new Server(http);
  // Test-only stand-in for the auth middleware: the real one verifies a JWT and sets the same field.
  io.use((socket, next) => {
    socket.data.userId = String(socket.handshake.auth.userId);
    next();
  });
  push = registerSignalPush({
    io,
    tradingDb,
    log,
    reconnectDelayMs: 50,
    onBroadcast: (rows, result) => broadcasts.push({ ids: rows.map((r) => r.id), ...result }),
  });
  io.on('connection', (socket) => registerSignalHandlers(socket, { push, chatDb, log }));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  await push.ready;
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await push?.close();
  await new Promise<void>((resolve) => io?.close(() => resolve()));
  await chatDb?.close();
  await tradingDb?.close();
  await dbs?.drop();
});

describe('signal push', () => {
  it('joins only the symbols the user watches and pushes new signals to those rooms only', async () => {
    const a = await client(alice);
    const b = await client(bob);
    expect(await subscribe(a, { symbols: ['btc/usdt', 'SOL/USDT'] })).toEqual({ ok: true, data: { joined: ['BTC/USDT'], refused: ['SOL/USDT'] } });
    expect(await subscribe(b, { symbols: ['SOL/USDT', 'BTC/USDT'] })).toEqual({ ok: true, data: { joined: ['SOL/USDT'], refused: ['BTC/USDT'] } });

    const btcId = await insertSignal('BTC/USDT');
    const solId = await insertSignal('SOL/USDT');
    await until(() => a.received.length === 1 && b.received.length === 1, 'both pushes');
    await new Promise((r) => setTimeout(r, 100));

    expect(a.received.map((s) => s.id)).toEqual([btcId]);
    expect(b.received.map((s) => s.id)).toEqual([solId]);
    expect(a.received[0]).toMatchObject({
      id: btcId,
      symbol: 'BTC/USDT',
      timeframe: '1h',
      direction: 'long',
      score: 70,
      entry: 100.25,
      stop: 95.5,
      takeProfit: 110,
      doubling: { recommended: false, blockedBy: 'cooldown', detail: 'd' },
      reasons: [{ indicator: 'rsi14', vote: 'long', weight: 1, detail: 'x' }],
      // Every pushed signal carries its pair's edge.
      edge: EDGE,
    });
    expect(new Date(a.received[0]!.candleTime).toISOString()).toBe(a.received[0]!.candleTime);
  });

  it('sends signals committed together as one broadcast, each socket its own rooms’ rows in id order, once', async () => {
    const a = await client(alice);
    const b = await client(bob);
    await subscribe(a, { symbols: ['BTC/USDT', 'ETH/USDT'] });
    await subscribe(b, { symbols: ['SOL/USDT'] });
    // One statement, one commit: the three NOTIFYs reach the listener together.
    const rows = await tradingDb.query<{ id: number; symbol: string }>(
      `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons)
       select s, '1h', $1::timestamptz, 'long', 70, 100, 95, 110, '[]'::jsonb from unnest($2::text[]) with ordinality as u(s, n) order by n
       returning id, symbol`,
      [new Date(Date.UTC(2023, 0, 1)), ['BTC/USDT', 'SOL/USDT', 'ETH/USDT']],
    );
    const id = (symbol: string) => rows.find((r) => r.symbol === symbol)!.id;
    await until(() => a.received.length === 2 && b.received.length === 1, 'the three pushes');
    await new Promise((r) => setTimeout(r, 100));
    expect(a.received.map((s) => s.id)).toEqual([id('BTC/USDT'), id('ETH/USDT')]);
    expect(b.received.map((s) => s.id)).toEqual([id('SOL/USDT')]);
    // One broadcast for the three, one write per subscribed socket (a, b and the earlier tests' still connected ones).
    const subscribed = new Set(['BTC/USDT', 'SOL/USDT', 'ETH/USDT'].flatMap((symbol) => [...(io.of('/').adapter.rooms.get(`signals:${symbol}`) ?? [])]));
    expect(subscribed.size).toBeGreaterThanOrEqual(2);
    const together = broadcasts.find((x) => x.ids.includes(id('BTC/USDT')));
    expect(together).toMatchObject({ ids: rows.map((r) => r.id).sort((x, y) => x - y), direct: subscribed.size, queued: 0 });
  });

  it('stops pushing after signals:unsubscribe', async () => {
    const a = await client(alice);
    const control = await client(alice);
    await subscribe(a, { symbols: ['ETH/USDT'] });
    await subscribe(control, { symbols: ['ETH/USDT'] });
    const left = await new Promise((resolve) => a.emit('signals:unsubscribe', { symbols: ['ETH/USDT', 'BTC/USDT'] }, resolve));
    expect(left).toEqual({ ok: true, data: { left: ['ETH/USDT'] } });

    const id = await insertSignal('ETH/USDT');
    await until(() => control.received.length === 1, 'control push');
    await new Promise((r) => setTimeout(r, 100));
    expect(control.received.map((s) => s.id)).toEqual([id]);
    expect(a.received).toEqual([]);
  });

  it('rejects malformed payloads with a validation error', async () => {
    const a = await client(alice);
    const bad = await subscribe(a, { symbols: ['not a symbol'] });
    expect(bad).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    const empty = await subscribe(a, { symbols: [] });
    expect(empty).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    const negative = await subscribe(a, { symbols: ['BTC/USDT'], sinceId: -1 });
    expect(negative).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
  });

  it('replays what a reconnecting socket missed, in id order, before the ack and without duplicates', async () => {
    const first = await client(alice);
    await subscribe(first, { symbols: ['BTC/USDT', 'ETH/USDT'] });
    const seen = await insertSignal('BTC/USDT');
    await until(() => first.received.length === 1, 'first push');
    first.disconnect();

    const missed = [await insertSignal('BTC/USDT'), await insertSignal('SOL/USDT'), await insertSignal('ETH/USDT'), await insertSignal('BTC/USDT')];
    const again = await client(alice);
    const ack = await subscribe(again, { symbols: ['BTC/USDT', 'ETH/USDT'], sinceId: seen });
    expect(ack).toEqual({ ok: true, data: { joined: ['BTC/USDT', 'ETH/USDT'], refused: [] } });
    // Replayed events are emitted before the ack, so they are all here already.
    expect(again.received.map((s) => s.id)).toEqual([missed[0], missed[2], missed[3]]);

    const live = await insertSignal('ETH/USDT');
    await until(() => again.received.length === 4, 'live push after replay');
    await new Promise((r) => setTimeout(r, 100));
    expect(again.received.map((s) => s.id)).toEqual([missed[0], missed[2], missed[3], live]);
  });

  it('delivers every signal exactly once when a replay races a stream of inserts', async () => {
    const symbol = 'ETH/USDT';
    const since = await insertSignal(symbol);
    const inserted: number[] = [];
    const writer = (async () => {
      for (let i = 0; i < 60; i++) {
        inserted.push(await insertSignal(symbol));
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await new Promise((r) => setTimeout(r, 15));
    const racer = await client(alice);
    await subscribe(racer, { symbols: [symbol], sinceId: since });
    await writer;
    await until(() => racer.received.length >= inserted.length, 'all signals', 10_000);
    await new Promise((r) => setTimeout(r, 150));
    const ids = racer.received.map((s) => s.id);
    expect(ids).toEqual(inserted);
  });

  it('pushes the same row whether it rode in the notification or had to be loaded (too big for NOTIFY)', async () => {
    const live = await client(alice);
    await subscribe(live, { symbols: ['BTC/USDT'] });
    const before = await insertSignal('ETH/USDT');
    const small = await insertSignal('BTC/USDT');
    // ~20 kB of reasons: over NOTIFY's 8000-byte payload, so only the id is notified.
    const bigReasons = Array.from({ length: 100 }, (_, i) => ({ indicator: `ind${i}`, vote: 'neutral', weight: 0.5, detail: 'z'.repeat(200) }));
    const big = await insertSignal('BTC/USDT', bigReasons);
    await until(() => live.received.length === 2, 'both pushes');
    expect(live.received.map((s) => s.id)).toEqual([small, big]);
    expect(live.received[1]!.reasons).toEqual(bigReasons);

    // The replay reads both rows from the database: the live copies must be identical.
    const replay = await client(alice);
    await subscribe(replay, { symbols: ['BTC/USDT'], sinceId: before });
    expect(replay.received).toEqual(live.received);
  });

  it('re-LISTENs after the connection drops and sends what was committed meanwhile', async () => {
    const a = await client(alice);
    await subscribe(a, { symbols: ['BTC/USDT'] });
    const [killed] = await tradingDb.query<{ n: number }>(
      `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
       where application_name = 'zmarty-signal-push' and datname = current_database()`,
    );
    expect(killed!.n).toBe(1);
    const duringOutage = await insertSignal('BTC/USDT');
    await until(() => a.received.some((s) => s.id === duringOutage), 'catch-up after reconnect');
    const afterwards = await insertSignal('BTC/USDT');
    await until(() => a.received.some((s) => s.id === afterwards), 'live push after reconnect');
    expect(a.received.map((s) => s.id)).toEqual([duringOutage, afterwards]);
  });
});
