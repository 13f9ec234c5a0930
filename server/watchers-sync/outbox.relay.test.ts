import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createLogger } from '../../common/logger';
import { createMigratedDatabases } from '../../test/databases';
import { createHttpDeliver } from './outbox.deliver';
import { createOutboxRelay, type OutboxRelay, type OutboxRelayOptions } from './outbox.relay';
import { createWatchersUpsertHandler } from './watchers-upsert.handler';
import { asUser, createUser, serveWebhook, waitFor, watcherRows, type TestServer } from './watchers-sync.test-support';

const SECRET = 'relay-test-secret-0123456789abcdefgh';
const log = createLogger({ level: 'silent' });

describe('user_symbols → outbox → relay → watchers-upsert', () => {
  let drop: () => Promise<void>;
  let chatUrl: string;
  let chatDb: Db;
  let tradingDb: Db;
  let server: TestServer;
  let users: string[] = [];
  /** 'down': the function answers 503 without touching the trading database. */
  let mode: 'up' | 'down' = 'up';
  /** Every request that reached the function, and the ones it acknowledged, in order. */
  let seen: string[] = [];
  let acknowledged: string[] = [];
  let timestamps: number[] = [];
  const relays: OutboxRelay[] = [];
  const extraDbs: Db[] = [];

  const handler = () =>
    createWatchersUpsertHandler({ tradingDb, secret: SECRET, log });
  /** Requests the function is still handling: a test ends only once its last one is recorded, not in the next test's lists. */
  let inFlight = 0;
  const gate = (inner: (r: Request) => Promise<Response>) => async (request: Request) => {
    const id = request.headers.get('x-webhook-id') ?? '?';
    seen.push(id);
    timestamps.push(Number(request.headers.get('x-webhook-timestamp')));
    if (mode === 'down') return Response.json({ error: { code: 'unavailable', message: 'down for the test' } }, { status: 503 });
    inFlight++;
    try {
      const response = await inner(request);
      if (response.ok) acknowledged.push(id);
      return response;
    } finally {
      inFlight--;
    }
  };

  function startRelay(options: Partial<OutboxRelayOptions> = {}, db: Db = chatDb): OutboxRelay {
    const relay = createOutboxRelay({
      chatDb: db,
      deliver: createHttpDeliver({ url: server.url, secret: SECRET }),
      log,
      backoff: { initialMs: 20, maxMs: 100 },
      ...options,
    });
    relays.push(relay);
    void relay.start();
    return relay;
  }

  beforeAll(async () => {
    const dbs = await createMigratedDatabases();
    drop = dbs.drop;
    chatUrl = dbs.chatUrl;
    chatDb = createDb({ connectionString: dbs.chatUrl, max: 6 });
    tradingDb = createDb({ connectionString: dbs.tradingUrl, max: 6 });
    server = await serveWebhook(gate(handler()));
    for (let i = 0; i < 4; i++) users.push(await createUser(chatDb, `relay-user-${i}@example.com`));
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    // A test that waited for the trading side to change can end while the function is still answering that request.
    await waitFor(async () => inFlight === 0, 5000);
    await Promise.all(extraDbs.splice(0).map((d) => d.close()));
  });
  afterAll(async () => {
    await server?.close();
    await chatDb?.close();
    await tradingDb?.close();
    await drop?.();
  });
  beforeEach(async () => {
    mode = 'up';
    seen = [];
    acknowledged = [];
    timestamps = [];
    await chatDb.query('truncate public.user_symbols, public.watchers_outbox');
    await tradingDb.query('truncate public.watchers, public.watcher_subscriptions, public.webhook_events');
  });

  const addSymbol = (user: string, symbol: string, timeframe: string) =>
    chatDb.asUser(asUser(user), async (q) => {
      const { rows } = await q.query<{ id: number }>('insert into public.user_symbols (symbol, timeframe) values ($1, $2) returning id', [symbol, timeframe]);
      return rows[0]!.id;
    });
  const setTimeframe = (user: string, id: number, timeframe: string) =>
    chatDb.asUser(asUser(user), (q) => q.query('update public.user_symbols set timeframe = $2 where id = $1', [id, timeframe]));
  const removeSymbol = (user: string, id: number) => chatDb.asUser(asUser(user), (q) => q.query('delete from public.user_symbols where id = $1', [id]));

  const subscribers = async (symbol: string, timeframe: string) =>
    (await tradingDb.query<{ subscribers: number }>('select subscribers from public.watchers where symbol = $1 and timeframe = $2', [symbol, timeframe]))[0]
      ?.subscribers ?? null;
  const pendingCount = async () => (await chatDb.query<{ n: number }>('select count(*)::int as n from public.watchers_outbox where delivered_at is null'))[0]!.n;
  const outboxOrder = async () => (await chatDb.query<{ event_id: string }>('select event_id from public.watchers_outbox order by id')).map((r) => r.event_id);

  /** The trading side mirrors the chat side exactly: one subscription per row, counts per watcher. */
  async function expectInSync() {
    const chatRows = await chatDb.query('select id as source_id, user_id, symbol, timeframe from public.user_symbols order by id');
    const tradingRows = await tradingDb.query('select source_id, user_id, symbol, timeframe from public.watcher_subscriptions order by source_id');
    expect(tradingRows).toEqual(chatRows);
    const expected = await chatDb.query<{ symbol: string; timeframe: string; n: number }>(
      'select symbol, timeframe, count(*)::int as n from public.user_symbols group by 1, 2 order by 1, 2',
    );
    const active = (await watcherRows(tradingDb)).filter((w) => w.active);
    expect(active.map((w) => [w.symbol, w.timeframe, w.subscribers])).toEqual(expected.map((e) => [e.symbol, e.timeframe, e.n]));
  }

  it('applies a user’s insert, timeframe change and delete to the watchers within 1 s (LISTEN, not polling)', async () => {
    // A minute-long poll interval: only the notification can make this fast.
    startRelay({ pollIntervalMs: 60_000 });
    await waitFor(async () => relays[0]!.status().leader, 2000);
    const [alice, bob] = users as [string, string];

    const id = await addSymbol(alice, 'BTC/USDT', '1h');
    expect(await waitFor(async () => (await subscribers('BTC/USDT', '1h')) === 1, 1000)).toBeLessThan(1000);
    const bobsId = await addSymbol(bob, 'BTC/USDT', '1h');
    await waitFor(async () => (await subscribers('BTC/USDT', '1h')) === 2, 1000);

    await setTimeframe(alice, id, '4h');
    await waitFor(async () => (await subscribers('BTC/USDT', '1h')) === 1 && (await subscribers('BTC/USDT', '4h')) === 1, 1000);

    await removeSymbol(bob, bobsId);
    await removeSymbol(alice, id);
    await waitFor(async () => (await subscribers('BTC/USDT', '1h')) === 0 && (await subscribers('BTC/USDT', '4h')) === 0, 1000);
    expect(await watcherRows(tradingDb)).toEqual([
      { symbol: 'BTC/USDT', timeframe: '1h', subscribers: 0, active: false },
      { symbol: 'BTC/USDT', timeframe: '4h', subscribers: 0, active: false },
    ]);
    expect(acknowledged).toEqual(await outboxOrder());
    expect(await pendingCount()).toBe(0);
  });

  it('writes the Supabase webhook payload into an outbox users cannot read or write', async () => {
    const [alice] = users as [string];
    const id = await addSymbol(alice, 'ETH/USDT', '15m');
    await setTimeframe(alice, id, '15m'); // no change: no event
    await setTimeframe(alice, id, '1d');
    const rows = await chatDb.query<{ payload: any }>('select payload from public.watchers_outbox order by id');
    expect(rows.map((r) => r.payload)).toEqual([
      { type: 'INSERT', table: 'user_symbols', schema: 'public', old_record: null, record: expect.objectContaining({ id, user_id: alice, symbol: 'ETH/USDT', timeframe: '15m' }) },
      {
        type: 'UPDATE',
        table: 'user_symbols',
        schema: 'public',
        old_record: expect.objectContaining({ id, timeframe: '15m' }),
        record: expect.objectContaining({ id, timeframe: '1d' }),
      },
    ]);
    for (const sql of ['select * from public.watchers_outbox', `insert into public.watchers_outbox (payload) values ('{}')`, 'delete from public.watchers_outbox']) {
      await expect(chatDb.asUser(asUser(alice), (q) => q.query(sql))).rejects.toThrow(/permission denied/);
    }
  });

  it('falls back to polling for a row whose notification was missed', async () => {
    startRelay({ pollIntervalMs: 200 });
    await waitFor(async () => relays[0]!.status().leader, 2000);
    // Written by the owner, without the trigger's pg_notify.
    const payload = { type: 'INSERT', table: 'user_symbols', schema: 'public', old_record: null, record: { id: 4242, user_id: users[0], symbol: 'ADA/USDT', timeframe: '1m' } };
    await chatDb.query('insert into public.watchers_outbox (payload) values ($1)', [payload]);
    await waitFor(async () => (await subscribers('ADA/USDT', '1m')) === 1, 1000);
  });

  it('keeps every change while the function is down and delivers each once, in order, when it is back', async () => {
    startRelay({ pollIntervalMs: 200 });
    mode = 'down';
    const [u0, u1, u2, u3] = users as [string, string, string, string];
    const a = await addSymbol(u0, 'BTC/USDT', '1h');
    const b = await addSymbol(u1, 'BTC/USDT', '1h');
    const c = await addSymbol(u2, 'SOL/USDT', '5m');
    await setTimeframe(u0, a, '4h');
    await removeSymbol(u1, b);
    await addSymbol(u3, 'BTC/USDT', '4h');
    await setTimeframe(u2, c, '1m');
    await setTimeframe(u2, c, '5m');
    await chatDb.asUser(asUser(u1), async (q) => {
      // Insert and move in one transaction: two events, committed together.
      const { rows } = await q.query<{ id: number }>(`insert into public.user_symbols (symbol, timeframe) values ('XRP/USDT', '1d') returning id`);
      await q.query(`update public.user_symbols set timeframe = '1h' where id = $1`, [rows[0]!.id]);
    });

    // Retried against the 503 while down; nothing reached the trading database.
    await waitFor(async () => seen.length >= 4, 2000);
    const head = (await chatDb.query<{ attempts: number; last_error: string }>('select attempts, last_error from public.watchers_outbox order by id limit 1'))[0]!;
    expect(head.attempts).toBeGreaterThanOrEqual(2);
    expect(head.last_error).toMatch(/503/);
    expect(new Set(seen)).toEqual(new Set([(await outboxOrder())[0]])); // only the head is tried: order is kept
    expect(await watcherRows(tradingDb)).toEqual([]);
    expect(await pendingCount()).toBe(10);
    // Down for longer than the function's 1 s tolerance: only a freshly signed retry can get through.
    await waitFor(async () => Date.now() - timestamps[0]! > 1200, 3000);
    expect(timestamps).toEqual([...timestamps].sort((x, y) => x - y));
    expect(new Set(timestamps).size).toBe(timestamps.length);

    mode = 'up';
    await waitFor(async () => (await pendingCount()) === 0, 5000);
    expect(acknowledged).toEqual(await outboxOrder());
    expect((await tradingDb.query<{ n: number }>('select count(*)::int as n from public.webhook_events'))[0]!.n).toBe(10);
    await expectInSync();
  });

  it('keeps the outbox while the function is unreachable (connection refused) and catches up when it listens again', async () => {
    const port = server.port;
    await server.close();
    try {
      startRelay({ pollIntervalMs: 200 });
      const [u0, u1] = users as [string, string];
      const a = await addSymbol(u0, 'DOGE/USDT', '1h');
      await addSymbol(u1, 'DOGE/USDT', '1h');
      await removeSymbol(u0, a);
      await waitFor(async () => (await chatDb.query<{ n: number }>('select attempts as n from public.watchers_outbox order by id limit 1'))[0]!.n >= 2, 2000);
      expect(await watcherRows(tradingDb)).toEqual([]);
    } finally {
      server = await serveWebhook(gate(handler()), port);
    }
    await waitFor(async () => (await pendingCount()) === 0, 5000);
    expect(acknowledged).toEqual(await outboxOrder());
    await expectInSync();
    expect(await subscribers('DOGE/USDT', '1h')).toBe(1);
  });

  it('delivers in commit order: a transaction holding an earlier outbox id is never overtaken', async () => {
    startRelay({ pollIntervalMs: 100 });
    const [u0, u1] = users as [string, string];
    let commitFirst!: () => void;
    let firstInserted!: () => void;
    const held = new Promise<void>((resolve) => (commitFirst = resolve));
    const inserted = new Promise<void>((resolve) => (firstInserted = resolve));
    // The first transaction takes its outbox id, then stays open …
    const first = chatDb.asUser(asUser(u0), async (q) => {
      await q.query(`insert into public.user_symbols (symbol, timeframe) values ('BNB/USDT', '1h')`);
      firstInserted();
      await held;
    });
    try {
      await inserted;
      // … while a second one writes and tries to commit.
      const second = addSymbol(u1, 'BNB/USDT', '4h');
      await new Promise((r) => setTimeout(r, 300));
      expect(seen).toEqual([]);
      commitFirst();
      await Promise.all([first, second]);
    } finally {
      commitFirst();
    }
    await waitFor(async () => (await pendingCount()) === 0, 2000);
    const order = await outboxOrder();
    expect(seen).toEqual(order);
    const firstEvent = (await chatDb.query<{ symbol: string }>(`select payload->'record'->>'timeframe' as symbol from public.watchers_outbox order by id limit 1`))[0];
    expect(firstEvent).toEqual({ symbol: '1h' });
  });

  it('reconnects after its chat-database connection is killed and goes on relaying', async () => {
    const relay = startRelay({ pollIntervalMs: 200 });
    await waitFor(async () => relay.status().leader, 2000);
    const killed = await chatDb.query<{ ok: boolean }>(
      `select pg_terminate_backend(pid) as ok from pg_locks
       where locktype = 'advisory' and objid = 72616174 and granted
         and database = (select oid from pg_database where datname = current_database())`,
    );
    expect(killed).toEqual([{ ok: true }]);
    await addSymbol(users[0]!, 'AVAX/USDT', '4h');
    await waitFor(async () => (await subscribers('AVAX/USDT', '4h')) === 1, 3000);
    expect(relay.status()).toMatchObject({ connected: true, leader: true });
  });

  it('two relays at once: one leads, nothing is delivered twice or out of order, the other takes over when it stops', async () => {
    const otherDb = createDb({ connectionString: chatUrl, max: 2 });
    extraDbs.push(otherDb);
    const first = startRelay({ pollIntervalMs: 100 });
    const second = startRelay({ pollIntervalMs: 100 }, otherDb);
    await waitFor(async () => first.status().leader || second.status().leader, 2000);

    const ids: number[] = [];
    await Promise.all(
      users.map(async (user, u) => {
        for (const [i, symbol] of ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'ADA/USDT', 'XRP/USDT'].entries()) {
          const id = await addSymbol(user, symbol, '1h');
          ids.push(id);
          if ((i + u) % 2 === 0) await setTimeframe(user, id, '15m');
          if ((i + u) % 3 === 0) await removeSymbol(user, id);
        }
      }),
    );
    await waitFor(async () => (await pendingCount()) === 0, 5000);
    expect([first, second].filter((r) => r.status().leader)).toHaveLength(1);
    const order = await outboxOrder();
    expect(seen).toEqual(order); // each event requested exactly once, in id order
    expect(acknowledged).toEqual(order);
    await expectInSync();

    // The leader stops (its connection and lock go with it); the standby delivers what follows.
    const [leader, standby] = first.status().leader ? [first, second] : [second, first];
    await leader.stop();
    await addSymbol(users[0]!, 'LINK/USDT', '1d');
    await waitFor(async () => (await subscribers('LINK/USDT', '1d')) === 1, 2000);
    expect(standby.status().leader).toBe(true);
    expect(seen).toEqual(await outboxOrder());
  });
});
