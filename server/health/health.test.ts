import net from 'node:net';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../common/db';
import { faults, startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket } from '../../test/socket-client';
import { startTestServer, type TestServer } from '../../test/test-server';
import { createHealth } from './health';

const healthz = async (server: TestServer) => {
  const res = await fetch(`${server.url}/healthz`);
  return { status: res.status, body: await res.json() };
};

/** Runs one statement as the test cluster's superuser (through the chat database, which stays up). */
async function asAdmin(server: TestServer, sql: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: server.chatUrl });
  await client.connect();
  try {
    await client.query(sql, values);
  } finally {
    await client.end();
  }
}

describe('/healthz on the real server', () => {
  let grok: MockOpenAI;
  let server: TestServer;

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: 'All good.' } });
    server = await startTestServer({ XAI_API_KEY: 'xai-key', XAI_BASE_URL: grok.url, HEALTH_CACHE_MS: '0', HEALTH_DB_TIMEOUT_MS: '5000', ALERT_QUEUE_DEPTH: '2' });
  }, 120_000);
  afterEach(() => grok.reset());
  afterAll(async () => {
    await server?.close();
    await grok?.close();
  });

  it('is 200 with every check named, each provider with its breaker state and last success', { timeout: 60_000 }, async () => {
    const user = await server.signUp();
    const socket = await connectSocket(server.url, user.accessToken);
    await ask(socket, { id: 'ok-1', message: 'hello there' });
    socket.close();
    const { status, body } = await healthz(server);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', failed: [], checks: { chat: { ok: true }, trading: { ok: true }, providers: { ok: true }, queues: { ok: true, threshold: 2 } } });
    const [xai] = body.checks.providers.providers;
    expect(xai).toMatchObject({ provider: 'xai', state: 'closed' });
    expect(Date.now() - Date.parse(xai.lastSuccessAt)).toBeLessThan(30_000);
  });

  it('is 503 naming `providers` once the only provider is down and its breaker opens, without calling it per probe', { timeout: 60_000 }, async () => {
    grok.setDefault(faults.status(500));
    const user = await server.signUp();
    const socket = await connectSocket(server.url, user.accessToken);
    // Two answers of two attempts each: the third consecutive failure opens the breaker.
    await ask(socket, { id: 'down-1', message: 'hello there' });
    await ask(socket, { id: 'down-2', message: 'hello there' });
    socket.close();
    const calls = grok.requests.length;
    const { status, body } = await healthz(server);
    await healthz(server);
    expect(status).toBe(503);
    expect(body.failed).toEqual(['providers']);
    expect(body.checks.providers).toMatchObject({ ok: false, error: expect.stringContaining('circuit open') });
    expect(body.checks.providers.providers[0]).toMatchObject({ provider: 'xai', state: 'open', lastSuccessAt: expect.any(String) });
    expect(grok.requests.length).toBe(calls);
    grok.setDefault({ text: 'All good.' });
  });

  it('is 503 naming `queues` when a pipeline queue is deeper than ALERT_QUEUE_DEPTH', { timeout: 60_000 }, async () => {
    const boss = new PgBoss({ connectionString: server.tradingUrl, schema: 'pgboss', supervise: false, schedule: false });
    await boss.start();
    await boss.createQueue('compute_signals');
    for (const symbol of ['BTC/USDT', 'ETH/USDT', 'SOL/USDT']) await boss.send('compute_signals', { symbol, timeframe: '1h', candleTime: 0 });
    await boss.stop({ graceful: false });
    // The queue reading is cached for 5 s.
    await new Promise((r) => setTimeout(r, 5_100));
    const { status, body } = await healthz(server);
    expect(status).toBe(503);
    expect(body.failed).toContain('queues');
    expect(body.checks.queues).toMatchObject({ ok: false, error: 'over 2 jobs waiting: compute_signals', depths: { compute_signals: 3 } });
    const trading = createDb({ connectionString: server.tradingUrl, max: 1 });
    await trading.query(`delete from pgboss.job where name = 'compute_signals'`);
    await trading.close();
  });

  it('is 503 naming `trading` while the trading database refuses connections, and 200 again once it is back', { timeout: 60_000 }, async () => {
    const name = new URL(server.tradingUrl).pathname.slice(1);
    await new Promise((r) => setTimeout(r, 5_100)); // past the queue reading's cache
    await asAdmin(server, `alter database "${name}" with allow_connections false`);
    await asAdmin(server, `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1`, [name]);
    try {
      const { status, body } = await healthz(server);
      expect(status).toBe(503);
      expect(body.failed).toContain('trading');
      expect(body.failed).not.toContain('chat');
      expect(body.checks.trading).toMatchObject({ ok: false, error: expect.any(String) });
    } finally {
      await asAdmin(server, `alter database "${name}" with allow_connections true`);
    }
    await new Promise((r) => setTimeout(r, 5_100));
    const back = await healthz(server);
    expect(back.body.failed).toEqual([]);
    expect(back.status).toBe(200);
  });
});

describe('createHealth', () => {
  let silent: net.Server;
  let port: number;
  const held = new Set<net.Socket>();
  beforeAll(async () => {
    // Accepts connections and never answers: a database that hangs.
    silent = net.createServer((socket) => held.add(socket));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => silent.close(r));
  });

  it('bounds a hung database by its timeout, and serves probes within cacheMs from one run', async () => {
    const hung = createDb({ connectionString: `postgresql://x:y@127.0.0.1:${port}/db`, max: 1 });
    let clock = 1_000_000;
    const health = createHealth({ databases: { trading: hung }, timeoutMs: 200, cacheMs: 1000, now: () => clock });
    const started = performance.now();
    const [first, concurrent] = await Promise.all([health.check(), health.check()]);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(first).toMatchObject({ status: 'unavailable', failed: ['trading'], checks: { trading: { ok: false, error: 'no answer within 200 ms' } } });
    expect(concurrent).toBe(first);
    clock += 999;
    expect(await health.check()).toBe(first);
    clock += 1;
    expect(await health.check()).not.toBe(first);
    for (const socket of held) socket.destroy();
    await hung.close().catch(() => undefined);
  });
});
