import { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../common/db';
import { createMigratedDatabases } from '../../test/databases';
import { faults, startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../../test/test-server';
import { startWebProcess, type WebProcess } from '../../test/web-process';
import { startWebhookReceiver, type WebhookReceiver } from '../../test/webhook-receiver';

const texts = (bodies: unknown[]) => bodies.map((b) => (b as { text: string }).text);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('alerts on one instance: error rate, provider errors and a failing health check', () => {
  let grok: MockOpenAI;
  let hook: WebhookReceiver;
  let server: TestServer;

  beforeAll(async () => {
    grok = await startMockOpenAI({ reply: { text: 'Fine.' } });
    hook = await startWebhookReceiver();
    server = await startTestServer({
      XAI_API_KEY: 'xai-key',
      XAI_BASE_URL: grok.url,
      ALERT_WEBHOOK_URL: hook.url,
      // Evaluated by hand below (`alerts.evaluate()`), never by the timer during the test.
      ALERT_EVALUATE_MS: '3600000',
      ALERT_WINDOW_SECONDS: '3',
      ALERT_ERROR_RATE_MIN_REQUESTS: '4',
      ALERT_PROVIDER_ERRORS: '3',
      HEALTH_CACHE_MS: '0',
      HEALTH_DB_TIMEOUT_MS: '5000',
    });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await grok?.close();
    await hook?.close();
  });

  it('fires each once, posts them to the webhook (retrying a failed post), and resolves each once', { timeout: 120_000 }, async () => {
    const user = await server.signUp();
    const chat = () =>
      fetch(`${server.url}/chat`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'hello there' }),
      }).then((r) => r.status);

    // Six requests in all (the sign-up, two answers, three reads). Grok down: each answer fails (try + retry), the third failure opens the breaker.
    grok.setDefault(faults.status(500));
    expect([await chat(), await chat()]).toEqual([503, 503]);
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/api/config`)).status).toBe(200);

    hook.failNext(1);
    await server.alerts.evaluate();
    await server.alerts.evaluate(); // the failed post is retried; nothing fires twice
    await server.alerts.evaluate();
    const fired = ['FIRING error_rate', 'FIRING provider_errors:xai', 'FIRING health:providers'];
    await hook.waitFor((b) => fired.every((f) => texts(b).some((t) => t.includes(f))));
    const delivered = texts(hook.received).slice(1); // the first post was answered 500
    expect(delivered.sort()).toEqual(
      [
        '[Zmarty] FIRING error_rate: Server error rate 33.3 % over the last 3 s (2 of 6 requests; threshold 5 %)',
        '[Zmarty] FIRING health:providers: Health check "providers" failing on 1 instance',
        '[Zmarty] FIRING provider_errors:xai: Provider xai: 3 failed API calls in the last 3 s (threshold 3)',
      ].sort(),
    );
    expect(texts(hook.received)[0]).toBe(delivered.find((t) => t === texts(hook.received)[0]));

    // Grok back; the window passes, the breaker's cooldown (5 s) lets a probe through.
    grok.setDefault({ text: 'Fine.' });
    await sleep(5_200);
    expect(await chat()).toBe(200);
    for (let i = 0; i < 4; i++) await fetch(`${server.url}/api/config`);
    const before = hook.received.length;
    await server.alerts.evaluate();
    await server.alerts.evaluate();
    await hook.waitFor((b) => b.length >= before + 3);
    await sleep(300);
    expect(texts(hook.received.slice(before)).sort()).toEqual(
      [
        '[Zmarty] RESOLVED error_rate: Server error rate 33.3 % over the last 3 s (2 of 6 requests; threshold 5 %)',
        '[Zmarty] RESOLVED health:providers: Health check "providers" failing on 1 instance',
        '[Zmarty] RESOLVED provider_errors:xai: Provider xai: 3 failed API calls in the last 3 s (threshold 3)',
      ].sort(),
    );
  });
});

describe('alerts while the chat database, where alerts are coordinated, is unreachable', () => {
  let hook: WebhookReceiver;
  let server: TestServer;
  beforeAll(async () => {
    hook = await startWebhookReceiver();
    server = await startTestServer({ ALERT_WEBHOOK_URL: hook.url, ALERT_EVALUATE_MS: '3600000', HEALTH_CACHE_MS: '0', HEALTH_DB_TIMEOUT_MS: '5000' });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await hook?.close();
  });

  it('posts health:chat from the instance itself, once while it is down and once when it is back', { timeout: 120_000 }, async () => {
    const name = new URL(server.chatUrl).pathname.slice(1);
    // Through the trading database's connection string: the same cluster, another database.
    const admin = createDb({ connectionString: server.tradingUrl, max: 1 });
    await admin.query(`alter database "${name}" with allow_connections false`);
    await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = $1`, [name]);
    try {
      await server.alerts.evaluate();
      await server.alerts.evaluate();
      await hook.waitFor((b) => b.length >= 1);
    } finally {
      await admin.query(`alter database "${name}" with allow_connections true`);
    }
    await server.alerts.evaluate();
    await server.alerts.evaluate();
    await hook.waitFor((b) => b.length >= 2);
    await admin.close();
    await sleep(300);
    const [fired, resolved] = texts(hook.received);
    expect(hook.received).toHaveLength(2);
    expect(fired).toMatch(/^\[Zmarty\] FIRING health:chat \(instance \d+-[0-9a-f-]+\): Chat database unreachable from instance /);
    expect(resolved).toMatch(/^\[Zmarty\] RESOLVED health:chat \(instance /);
  });
});

describe('alerts with two web processes on the same databases', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let hook: WebhookReceiver;
  const webs: WebProcess[] = [];

  beforeAll(async () => {
    databases = await createMigratedDatabases();
    hook = await startWebhookReceiver();
  });
  afterAll(async () => {
    for (const web of webs) web.child.kill('SIGKILL');
    await Promise.all(webs.map((w) => w.exited));
    await hook?.close();
    await databases?.drop();
  });

  it('sends a deep queue once when it fires and once when it resolves, and logs each change once', { timeout: 400_000 }, async () => {
    const env = {
      CHAT_DATABASE_URL: databases.chatUrl,
      TRADING_DATABASE_URL: databases.tradingUrl,
      ALERT_WEBHOOK_URL: hook.url,
      ALERT_EVALUATE_MS: '200',
      ALERT_QUEUE_DEPTH: '2',
      HEALTH_DB_TIMEOUT_MS: '5000',
      // Two instances on shared databases: the same auth everywhere (server/auth/embedded-keys.ts).
      SUPABASE_JWT_SECRET: TEST_JWT_SECRET,
      PUBLIC_URL: 'http://localhost:8080',
    };
    webs.push(...(await Promise.all([startWebProcess(env), startWebProcess(env)])));

    const boss = new PgBoss({ connectionString: databases.tradingUrl, schema: 'pgboss', supervise: false, schedule: false });
    await boss.start();
    await boss.createQueue('ingest_indicators');
    for (const symbol of ['BTC/USDT', 'ETH/USDT', 'SOL/USDT']) await boss.send('ingest_indicators', { symbol, timeframe: '1h' });
    await boss.stop({ graceful: false });

    const firing = '[Zmarty] FIRING queue_depth:ingest_indicators: Queue ingest_indicators has 3 jobs waiting (threshold 2)';
    await hook.waitFor((b) => texts(b).includes(firing), 60_000);
    // Both instances keep evaluating every 200 ms while it stays deep.
    await sleep(3_000);

    const trading = createDb({ connectionString: databases.tradingUrl, max: 1 });
    await trading.query(`delete from pgboss.job where name = 'ingest_indicators'`);
    await trading.close();
    const resolved = firing.replace('FIRING', 'RESOLVED');
    await hook.waitFor((b) => texts(b).includes(resolved), 60_000);
    await sleep(3_000);

    expect(texts(hook.received)).toEqual([firing, resolved]);
    // Both instances were evaluating all along (each records a sample per evaluation).
    const chat = createDb({ connectionString: databases.chatUrl, max: 1 });
    const [{ instances }] = (await chat.query<{ instances: number }>(
      `select count(distinct instance_id)::int as instances from zmarty_private.ops_samples where at > now() - interval '3 seconds'`,
    )) as [{ instances: number }];
    await chat.close();
    expect(instances).toBe(2);
    const logged = (message: string) => webs.map((w) => w.output().split('\n').filter((l) => l.includes(message) && l.includes('queue_depth:ingest_indicators')).length);
    // Exactly one of the two processes logged each change.
    expect(logged('alert firing').reduce((a, b) => a + b)).toBe(1);
    expect(logged('alert resolved').reduce((a, b) => a + b)).toBe(1);
    expect(webs.every((w) => w.output().includes('"msg":"Zmarty is running'))).toBe(true);
  });
});
