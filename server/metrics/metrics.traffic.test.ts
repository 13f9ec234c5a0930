import { randomUUID } from 'node:crypto';
import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faults, startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { ask, connectSocket } from '../../test/socket-client';
import { seriesValue } from '../../test/prometheus-text';
import { startTestServer, type TestServer } from '../../test/test-server';
import { createMetrics, createMetricsRoutes } from './metrics';

describe('/metrics after real traffic (HTTP, socket chat through the mock providers, pg-boss queues)', () => {
  let grok: MockOpenAI;
  let gpt: MockOpenAI;
  let server: TestServer;

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: 'Grok answers.' } });
    gpt = await startMockOpenAI({ reply: { text: 'GPT answers after Grok failed.' } });
    server = await startTestServer({ XAI_API_KEY: 'xai-key', XAI_BASE_URL: grok.url, OPENAI_API_KEY: 'openai-key', OPENAI_BASE_URL: gpt.url });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await grok?.close();
    await gpt?.close();
  });

  it('exports latency and errors per route template and socket event, TTFT, attempts, fallbacks and credits per provider, and queue depth', { timeout: 120_000 }, async () => {
    // Three jobs waiting in a real pg-boss queue on the trading database, no worker.
    const boss = new PgBoss({ connectionString: server.tradingUrl, schema: 'pgboss', supervise: false, schedule: false });
    await boss.start();
    await boss.createQueue('ingest_indicators');
    for (const symbol of ['BTC/USDT', 'ETH/USDT', 'SOL/USDT']) await boss.send('ingest_indicators', { symbol, timeframe: '1h' });
    await boss.stop({ graceful: false });

    const user = await server.signUp();
    const auth = { authorization: `Bearer ${user.accessToken}` };
    expect((await fetch(`${server.url}/api/symbols`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${server.url}/api/conversations/${randomUUID()}`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${server.url}/api/conversations/${randomUUID()}`, { headers: auth })).status).toBe(404);

    // Grok fails twice (first try and its retry) before any token: GPT answers.
    grok.script(faults.status(500), faults.status(500));
    const socket = await connectSocket(server.url, user.accessToken);
    const answer = await ask(socket, { id: randomUUID(), message: 'hello there' });
    expect(answer.done).toMatchObject({ provider: 'openai', status: 'complete' });
    const refused = await new Promise<unknown>((resolve) => socket.emit('chat:send', { id: 'x', message: '' } as never, resolve));
    expect(refused).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    socket.close();

    // Every provider down: the REST fallback answers 503.
    grok.setDefault(faults.status(500));
    gpt.setDefault(faults.status(500));
    const down = await fetch(`${server.url}/chat`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ message: 'hello?' }) });
    expect(down.status).toBe(503);

    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const v = (name: string, labels: Record<string, string> = {}) => seriesValue(text, name, labels);

    // Route templates, never raw paths.
    expect(v('zmarty_http_requests_total', { method: 'GET', route: '/api/symbols', status_class: '2xx' })).toBe(1);
    expect(v('zmarty_http_requests_total', { method: 'GET', route: '/api/conversations/:id', status_class: '4xx' })).toBe(2);
    expect(v('zmarty_http_requests_total', { method: 'POST', route: '/chat', status_class: '5xx' })).toBe(1);
    expect(text).not.toMatch(/route="\/api\/conversations\/[0-9a-f]{8}-/);
    expect(v('zmarty_http_request_duration_seconds_count', { method: 'GET', route: '/api/conversations/:id' })).toBe(2);
    // The operator's routes under the names the error rate leaves out (OPERATIONS_ROUTES).
    expect(v('zmarty_http_requests_total', { method: 'GET', route: '/healthz', status_class: '2xx' })).toBe(1);

    expect(v('zmarty_socket_event_duration_seconds_count', { event: 'chat:send' })).toBe(2);
    expect(v('zmarty_socket_events_total', { event: 'chat:send', outcome: 'ok' })).toBe(1);
    expect(v('zmarty_socket_events_total', { event: 'chat:send', outcome: 'client_error' })).toBe(1);

    expect(v('zmarty_chat_time_to_first_token_seconds_count', { provider: 'openai' })).toBe(1);
    expect(v('zmarty_chat_time_to_first_token_seconds_count', { provider: 'xai' })).toBeUndefined();
    // The chat: Grok's try and retry failed, GPT completed. The REST request: Grok failed a third time, which opened
    // its breaker (its retry was skipped), then GPT failed its try and retry.
    expect(v('zmarty_provider_attempts_total', { provider: 'xai', outcome: 'failed', reason: 'server_error' })).toBe(3);
    expect(v('zmarty_provider_attempts_total', { provider: 'xai', outcome: 'skipped', reason: 'circuit_open' })).toBe(1);
    expect(v('zmarty_provider_attempts_total', { provider: 'openai', outcome: 'complete' })).toBe(1);
    expect(v('zmarty_provider_attempts_total', { provider: 'openai', outcome: 'failed', reason: 'server_error' })).toBe(2);
    expect(v('zmarty_provider_fallbacks_total', { from: 'xai', to: 'openai' })).toBe(2);
    expect(v('zmarty_credits_charged_total', { provider: 'openai' })).toBe(answer.done!.credits.charged);
    expect(answer.done!.credits.charged).toBeGreaterThan(0);

    expect(v('zmarty_queue_depth', { queue: 'ingest_indicators' })).toBe(3);
    expect(v('zmarty_queue_active_jobs', { queue: 'ingest_indicators' })).toBe(0);
    // /healthz's checks, as this instance last ran them: the databases answer, the queue is under its threshold.
    expect(v('zmarty_health_check_up', { check: 'chat' })).toBe(1);
    expect(v('zmarty_health_check_up', { check: 'trading' })).toBe(1);
    expect(v('zmarty_health_check_up', { check: 'queues' })).toBe(1);
  });
});

describe('zmarty_cache_lookups_total', () => {
  it('counts each lookup recorded through recordCacheLookup by cache and result', async () => {
    const metrics = createMetrics();
    const onCacheLookup = metrics.recordCacheLookup; // handed to the caches as a plain callback
    onCacheLookup('answers', true);
    onCacheLookup('answers', false);
    onCacheLookup('answers', true);
    onCacheLookup('market_context', false);
    const text = await (await createMetricsRoutes(metrics).request('/')).text();
    expect(seriesValue(text, 'zmarty_cache_lookups_total', { cache: 'answers', result: 'hit' })).toBe(2);
    expect(seriesValue(text, 'zmarty_cache_lookups_total', { cache: 'answers', result: 'miss' })).toBe(1);
    expect(seriesValue(text, 'zmarty_cache_lookups_total', { cache: 'market_context', result: 'miss' })).toBe(1);
    expect(seriesValue(text, 'zmarty_cache_lookups_total', { cache: 'market_context', result: 'hit' })).toBeUndefined();
  });
});
