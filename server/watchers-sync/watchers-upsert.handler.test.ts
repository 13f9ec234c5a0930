import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createMigratedDatabases } from '../../test/databases';
import { createWatchersUpsertHandler } from './watchers-upsert.handler';
import { serveWebhook, tradingSnapshot, watcherRows, type TestServer } from './watchers-sync.test-support';

const SECRET = 'test-webhook-secret-0123456789abcdef';
const USER_A = '00000000-0000-4000-8000-00000000000a';
const USER_B = '00000000-0000-4000-8000-00000000000b';

const row = (id: number, symbol: string, timeframe: string, userId = USER_A) => ({
  id,
  user_id: userId,
  symbol,
  timeframe,
  created_at: '2025-01-01T00:00:00+00:00',
});
const insert = (r: ReturnType<typeof row>) => ({ type: 'INSERT', table: 'user_symbols', schema: 'public', record: r, old_record: null });
const update = (old: ReturnType<typeof row>, r: ReturnType<typeof row>) => ({ type: 'UPDATE', table: 'user_symbols', schema: 'public', record: r, old_record: old });
const remove = (old: ReturnType<typeof row>) => ({ type: 'DELETE', table: 'user_symbols', schema: 'public', record: null, old_record: old });

/** Signs with node:crypto, independently of the Web Crypto code under test. */
function sign(secret: string, timestamp: string, body: string) {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

describe('watchers-upsert function', () => {
  let drop: () => Promise<void>;
  let tradingDb: Db;
  let server: TestServer;
  let clock = Date.now();
  const activated: Array<{ symbol: string; timeframe: string }> = [];

  beforeAll(async () => {
    const dbs = await createMigratedDatabases();
    drop = dbs.drop;
    tradingDb = createDb({ connectionString: dbs.tradingUrl, max: 12 });
    const handler = createWatchersUpsertHandler({
      tradingDb,
      secret: SECRET,
      now: () => clock,
      onWatcherActivated: (w) => {
        activated.push(w);
      },
    });
    server = await serveWebhook(handler);
  });
  afterAll(async () => {
    await server?.close();
    await tradingDb?.close();
    await drop?.();
  });
  beforeEach(async () => {
    clock = Date.now();
    activated.length = 0;
    await tradingDb.query('truncate public.watchers, public.watcher_subscriptions, public.webhook_events');
  });

  async function post(
    payload: unknown,
    opts: { id?: string | null; timestamp?: string | null; signature?: string | null; secret?: string; rawBody?: string } = {},
  ) {
    const body = opts.rawBody ?? JSON.stringify(payload);
    const timestamp = opts.timestamp === undefined ? String(clock) : opts.timestamp;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const id = opts.id === undefined ? randomUUID() : opts.id;
    if (id !== null) headers['x-webhook-id'] = id;
    if (timestamp !== null) headers['x-webhook-timestamp'] = timestamp;
    const signature = opts.signature === undefined ? sign(opts.secret ?? SECRET, timestamp ?? '', body) : opts.signature;
    if (signature !== null) headers['x-hmac-sha256'] = signature;
    const res = await fetch(server.url, { method: 'POST', headers, body });
    return { status: res.status, body: (await res.json()) as any };
  }

  it('counts subscriptions per watcher, moves them on a timeframe change and reports activation', async () => {
    const a = row(1, 'BTC/USDT', '1h', USER_A);
    const b = row(2, 'BTC/USDT', '1h', USER_B);
    expect((await post(insert(a))).status).toBe(200);
    expect(activated).toEqual([{ symbol: 'BTC/USDT', timeframe: '1h' }]);
    const second = await post(insert(b));
    expect(second.body).toEqual({ ok: true, duplicate: false, watchers: [{ symbol: 'BTC/USDT', timeframe: '1h', subscribers: 2, active: true }] });
    expect(activated).toHaveLength(1);

    // B moves to 4h: one watcher loses a subscriber, a new one is created active.
    await post(update(b, { ...b, timeframe: '4h' }));
    expect(await watcherRows(tradingDb)).toEqual([
      { symbol: 'BTC/USDT', timeframe: '1h', subscribers: 1, active: true },
      { symbol: 'BTC/USDT', timeframe: '4h', subscribers: 1, active: true },
    ]);
    expect(activated).toEqual([
      { symbol: 'BTC/USDT', timeframe: '1h' },
      { symbol: 'BTC/USDT', timeframe: '4h' },
    ]);

    await post(remove(a));
    await post(remove({ ...b, timeframe: '4h' }));
    expect(await watcherRows(tradingDb)).toEqual([
      { symbol: 'BTC/USDT', timeframe: '1h', subscribers: 0, active: false },
      { symbol: 'BTC/USDT', timeframe: '4h', subscribers: 0, active: false },
    ]);
    expect(await tradingDb.query('select * from public.watcher_subscriptions')).toEqual([]);

    // Reactivation of an existing, inactive watcher is an activation too.
    await post(insert(row(3, 'BTC/USDT', '4h')));
    expect(activated.at(-1)).toEqual({ symbol: 'BTC/USDT', timeframe: '4h' });
    expect(activated).toHaveLength(3);
  });

  it('acknowledges a replayed event id with 200 and changes nothing', async () => {
    const id = randomUUID();
    expect((await post(insert(row(1, 'ETH/USDT', '1h')), { id })).body.duplicate).toBe(false);
    const before = await tradingSnapshot(tradingDb);
    // Same id, even with a different (validly signed) body: the id decides.
    const replay = await post(insert(row(2, 'ETH/USDT', '1h', USER_B)), { id });
    expect(replay).toEqual({ status: 200, body: { ok: true, duplicate: true, watchers: [] } });
    expect(await tradingSnapshot(tradingDb)).toEqual(before);
    expect(activated).toHaveLength(1);
  });

  it('never counts a row twice when its events are resent under new ids or arrive out of order', async () => {
    const r = row(7, 'SOL/USDT', '15m');
    await post(insert(r));
    await post(insert(r));
    await post(update(r, r));
    expect(await watcherRows(tradingDb)).toEqual([{ symbol: 'SOL/USDT', timeframe: '15m', subscribers: 1, active: true }]);

    // An UPDATE that overtook its INSERT: the stored state, not old_record, says where the row was.
    const late = row(8, 'SOL/USDT', '1h');
    await post(update(late, { ...late, timeframe: '15m' }));
    await post(insert(late)); // the stale INSERT arrives afterwards …
    await post(update(late, { ...late, timeframe: '15m' })); // … and is superseded again
    expect(await watcherRows(tradingDb)).toEqual([
      { symbol: 'SOL/USDT', timeframe: '15m', subscribers: 2, active: true },
      { symbol: 'SOL/USDT', timeframe: '1h', subscribers: 0, active: false },
    ]);
    // A DELETE of a row never seen changes nothing and creates no watcher.
    await post(remove(row(99, 'XRP/USDT', '1d')));
    expect((await watcherRows(tradingDb)).map((w) => w.symbol)).not.toContain('XRP/USDT');
  });

  describe('rejects, with nothing changed in the trading database', () => {
    const payload = insert(row(1, 'BTC/USDT', '1h'));
    const cases: Array<[string, () => Parameters<typeof post>[1], number, string]> = [
      ['a missing signature', () => ({ signature: null }), 401, 'webhook_signature_missing'],
      ['a signature made with another secret', () => ({ secret: 'another-secret-0123456789abcdefgh' }), 401, 'webhook_signature_invalid'],
      ['a signature that is not hex', () => ({ signature: 'not-a-signature' }), 401, 'webhook_signature_invalid'],
      ['a signature over another timestamp', () => ({ signature: sign(SECRET, String(clock - 1), JSON.stringify(payload)) }), 401, 'webhook_signature_invalid'],
      ['a missing timestamp', () => ({ timestamp: null }), 400, 'webhook_timestamp_invalid'],
      ['a timestamp in seconds with a fraction', () => ({ timestamp: '1700000000.5' }), 400, 'webhook_timestamp_invalid'],
      ['a stale timestamp (1001 ms old)', () => ({ timestamp: String(clock - 1001) }), 401, 'webhook_timestamp_expired'],
      ['a timestamp 1001 ms in the future', () => ({ timestamp: String(clock + 1001) }), 401, 'webhook_timestamp_expired'],
      ['a missing event id', () => ({ id: null }), 400, 'validation_failed'],
      ['an event id with a control character', () => ({ id: `evt-${randomUUID()}\u0085` }), 400, 'validation_failed'],
      ['a body that is not JSON', () => ({ rawBody: '{"type":"INSERT",' }), 400, 'bad_request'],
      ['another table', () => ({ rawBody: JSON.stringify({ ...payload, table: 'profiles' }) }), 400, 'validation_failed'],
      ['an unknown event type', () => ({ rawBody: JSON.stringify({ ...payload, type: 'TRUNCATE' }) }), 400, 'validation_failed'],
      ['an invalid symbol', () => ({ rawBody: JSON.stringify(insert(row(1, 'btc-usdt', '1h'))) }), 400, 'validation_failed'],
      ['a DELETE without old_record', () => ({ rawBody: JSON.stringify({ ...remove(row(1, 'BTC/USDT', '1h')), old_record: null }) }), 400, 'validation_failed'],
    ];
    it.each(cases)('%s', async (_name, options, status, code) => {
      const before = await tradingSnapshot(tradingDb);
      const res = await post(payload, options());
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error: { code, message: expect.any(String) } });
      expect(await tradingSnapshot(tradingDb)).toEqual(before);
      expect(activated).toEqual([]);
    });

    it('accepts the tolerance boundary itself, in both directions', async () => {
      expect((await post(payload, { timestamp: String(clock - 1000) })).status).toBe(200);
      expect((await post(payload, { timestamp: String(clock + 1000) })).status).toBe(200);
    });

    it('a rejected request does not use up its event id', async () => {
      const id = randomUUID();
      expect((await post(payload, { id, timestamp: String(clock - 5000) })).status).toBe(401);
      expect((await post(payload, { id })).body.duplicate).toBe(false);
    });
  });

  it('answers a method other than POST with 405 and an error body', async () => {
    const handler = createWatchersUpsertHandler({ tradingDb, secret: SECRET });
    const res = await handler(new Request('http://localhost/functions/v1/watchers-upsert'));
    expect(res.status).toBe(405);
    expect(await res.json()).toEqual({ error: { code: 'method_not_allowed', message: 'Use POST' } });
  });

  it('keeps counts exact under concurrent events for one watcher and crossing moves', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => row(100 + i, 'DOGE/USDT', i % 2 ? '1m' : '5m', i % 2 ? USER_A : USER_B));
    await Promise.all(rows.map((r) => post(insert(r))));
    expect(await watcherRows(tradingDb)).toEqual([
      { symbol: 'DOGE/USDT', timeframe: '1m', subscribers: 20, active: true },
      { symbol: 'DOGE/USDT', timeframe: '5m', subscribers: 20, active: true },
    ]);
    // Every row swaps timeframe at once: moves 1m→5m and 5m→1m lock the same two watchers.
    const swapped = rows.map((r) => ({ ...r, timeframe: r.timeframe === '1m' ? '5m' : '1m' }));
    const results = await Promise.all(rows.map((r, i) => post(update(r, swapped[i]!))));
    expect(results.map((r) => r.status)).toEqual(rows.map(() => 200));
    await Promise.all(swapped.slice(0, 15).map((r) => post(remove(r))));
    const counts = await tradingDb.query<{ timeframe: string; n: number }>(
      `select timeframe, count(*)::int as n from public.watcher_subscriptions group by timeframe order by timeframe`,
    );
    const watchers = await watcherRows(tradingDb);
    expect(watchers.map((w) => [w.timeframe, w.subscribers])).toEqual(counts.map((c) => [c.timeframe, c.n]));
    expect(watchers.reduce((sum, w) => sum + w.subscribers, 0)).toBe(25);
    expect(activated).toHaveLength(2);
  });
});
