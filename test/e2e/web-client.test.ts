import { describeEdge, scoreWithMeaning } from '../../common/edge';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatPrice } from '../../common/format';
import { describeSignal } from '../../server/context/market-format';
import { addPair, ask, chargeOf, ledgerBalance, newEmail, openApp, PHONE, shownBalance, signedIn, signUpInUi, userIdOf, type AppPage } from './app-page';
import { browserUnavailableReason, launchBrowser, saveScreenshot, whileAsleep } from './browser';
import { latestSignal, pipelineSignal, startStack, type E2eStack } from './stack';

/**
 * The web client end to end in headless Chromium, against the real server
 * (embedded auth and Postgres), the real pipeline on the simulated market and
 * loopback provider mocks. Screenshots of the main screens land in
 * test-output/screenshots/.
 */
const unavailable = browserUnavailableReason();
if (unavailable) console.warn(`[e2e] browser tests skipped: ${unavailable}`);

const JOURNEY_MS = 60_000;

describe.skipIf(unavailable !== null)('web client in Chromium', () => {
  let browser: Browser;
  let stack: E2eStack;
  const apps: AppPage[] = [];
  const track = (app: AppPage) => (apps.push(app), app);

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), startStack({ tokenDelayMs: 25 })]);
  });

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close().catch(() => undefined)));
    await browser?.close();
    await stack?.close();
  });
  // Every journey runs under the server's Content-Security-Policy: any violation fails it
  // (taken out of the list, so one violation fails one test, not every later one).
  afterEach(() => {
    expect(apps.flatMap((app) => app.cspViolations.splice(0))).toEqual([]);
  });

  it('serves the app with its security headers, and a violation of its CSP is caught', { timeout: JOURNEY_MS }, async () => {
    const app = track(await openApp(browser, stack.server));
    const headers = app.document!.headers();
    const csp = headers['content-security-policy'] ?? '';
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "media-src 'self' blob:"]) {
      expect(csp).toContain(directive);
    }
    expect(csp).not.toContain('unsafe-inline');
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['referrer-policy']).toBe('no-referrer');
    await app.page.getByTestId('sign-up').waitFor();
    expect(app.cspViolations).toEqual([]);

    // The watcher is live: an inline script (what an XSS would inject) is blocked and reported.
    const probe = track(await openApp(browser, stack.server));
    await probe.page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__e2eInlineRan = true';
      document.body.append(script);
    });
    await expect.poll(() => probe.cspViolations.length).toBeGreaterThan(0);
    expect(probe.cspViolations.join('\n')).toContain('script-src');
    expect(await probe.page.evaluate(() => (window as unknown as { __e2eInlineRan?: boolean }).__e2eInlineRan)).toBeUndefined();
    probe.cspViolations.length = 0;
  });

  it('signs up, adds BTC/USDT and shows the pipeline’s signal the moment it is pushed, then its chart', { timeout: JOURNEY_MS }, async () => {
    const app = track(await openApp(browser, stack.server));
    const { page } = app;
    await page.getByTestId('sign-up').waitFor();
    await saveScreenshot(page, '01-sign-in');

    const email = newEmail('signup');
    await signUpInUi(page, email);
    const userId = await userIdOf(stack.server, email);
    expect(await shownBalance(page)).toBe(await ledgerBalance(stack.server, userId));
    expect(await latestSignal(stack, 'BTC/USDT')).toBeUndefined();

    // A marker on window survives only if the page is never reloaded.
    await page.evaluate(() => Object.assign(window, { __e2eNoReload: true }));
    await addPair(page, 'BTC/USDT');

    // Real path: user_symbols → outbox relay → watchers-upsert → watcher NOTIFY →
    // pipeline ingest + signal → signals NOTIFY → socket push → toast and feed.
    const alert = page.getByTestId('signal-alert');
    await alert.waitFor({ timeout: 30_000 });
    const stored = (await latestSignal(stack, 'BTC/USDT'))!;
    expect(stored).toBeDefined();
    expect(await alert.getAttribute('data-signal-id')).toBe(String(stored.id));
    // The alert sits in the page flow: no button, link or field outside it lies under it.
    const covered = await page.evaluate(() => {
      const box = document.querySelector('[data-testid="signal-alert"]')!.getBoundingClientRect();
      return [...document.querySelectorAll('button, a[href], input, select, textarea')]
        .filter((el) => !el.closest('.toasts'))
        .filter((el) => {
          const r = el.getBoundingClientRect();
          return r.width > 0 && r.height > 0 && r.left < box.right && r.right > box.left && r.top < box.bottom && r.bottom > box.top;
        })
        .map((el) => el.outerHTML.slice(0, 80));
    });
    expect(covered).toEqual([]);
    const item = page.locator(`[data-testid="signal-feed-item"][data-signal-id="${stored.id}"]`);
    await item.waitFor();
    await expect.poll(() => item.textContent()).toContain('BTC/USDT');
    await expect.poll(() => item.textContent()).toContain(stored.direction === 'long' ? 'Long' : stored.direction === 'short' ? 'Short' : 'Flat');
    expect(await page.evaluate(() => (window as unknown as { __e2eNoReload?: boolean }).__e2eNoReload)).toBe(true);
    // The watchlist row picks the signal up too.
    const row = page.locator('[data-testid="symbol-row"][data-symbol="BTC/USDT"]');
    await row.locator('.row-signal').waitFor();
    // The pair heads its timeframes with its last price and 24 h change, formatted as the chat formats them.
    const group = page.locator('[data-testid="pair-group"][data-symbol="BTC/USDT"]');
    await expect.poll(() => group.getByTestId('pair-price').textContent(), { timeout: 15_000 }).not.toBe('—');
    const closes = await stack.server.tradingDb.query<{ close: number }>(
      `select close from public.candles where symbol = 'BTC/USDT' and timeframe = '1h' order by open_time desc limit 3`,
    );
    expect(closes.map((c) => formatPrice(c.close))).toContain(await group.getByTestId('pair-price').textContent());
    expect(await group.getByTestId('pair-change').textContent()).toMatch(/^(\+|-)?\d+\.\d{2}%$/);
    // The pair's track record from the first minute (history walked forward at its first ingest):
    // the score with its meaning, the edge badge and a small equity curve against holding.
    expect(stored.edge).not.toBeNull();
    await expect.poll(() => row.getByTestId('score').textContent()).toBe(scoreWithMeaning(stored.score));
    await expect.poll(() => row.getByTestId('edge-badge').getAttribute('title'), { timeout: 15_000 }).toBe(describeEdge('BTC/USDT', '1h', stored.edge!));
    await row.locator('[data-testid="equity-curve"] canvas').first().waitFor({ timeout: 15_000 });
    await expect.poll(() => row.getByTestId('track-record').textContent()).toContain(`Trades${stored.edge!.trades}`);
    await saveScreenshot(page, '02-watchlist-with-signal');

    await item.click();
    const dialog = page.locator('dialog.detail');
    await dialog.waitFor();
    // lightweight-charts draws on canvases once the candles have loaded.
    await dialog.locator('.chart canvas').first().waitFor();
    expect(await dialog.locator('.chart-placeholder').count()).toBe(0);
    await expect.poll(() => dialog.locator('h2').textContent()).toContain('BTC/USDT');
    // Never a signal without its edge, in plain words.
    const sentence = describeEdge('BTC/USDT', '1h', stored.edge!);
    await expect.poll(() => dialog.getByTestId('edge-sentence').textContent()).toBe(`${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}.`);
    await dialog.locator('[data-testid="equity-curve"] canvas').first().waitFor();
    await saveScreenshot(page, '04-signal-detail-chart');
    await dialog.getByRole('button', { name: 'Close signal details' }).click();
    await dialog.waitFor({ state: 'detached' });

    // A removed pair leaves the live feed: its cards and alerts go with it.
    await row.getByRole('button', { name: 'Remove BTC/USDT 1h' }).click();
    await row.waitFor({ state: 'detached' });
    await item.waitFor({ state: 'detached' });
    expect(await page.getByTestId('signal-alert').count()).toBe(0);
    expect(app.errors).toEqual([]);
  });

  it('streams an answer grounded in the stored signal and charges exactly what the ledger says', { timeout: JOURNEY_MS }, async () => {
    const { app, userId } = await signedIn(browser, stack.server);
    track(app);
    const { page } = app;
    await addPair(page, 'BTC/USDT');
    const signal = await pipelineSignal(stack, 'BTC/USDT');
    const before = await shownBalance(page);
    expect(before).toBe(await ledgerBalance(stack.server, userId));

    const answer = await ask(page, 'what’s the signal for BTC?');
    // Tokens arrive while the answer is still open: some text, status streaming.
    const partial = await page.waitForFunction(
      () => {
        const el = [...document.querySelectorAll('[data-testid="answer"]')].pop();
        const text = el?.querySelector('.markdown')?.textContent ?? '';
        return el?.getAttribute('data-status') === 'streaming' && text.length > 0 ? text : null;
      },
      null,
      { polling: 'raf', timeout: 15_000 },
    );
    const partialText = (await partial.jsonValue()) as string;
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    const text = (await answer.locator('.markdown').textContent()) ?? '';
    expect(text.length).toBeGreaterThan(partialText.length);
    expect(text.startsWith(partialText.trim().slice(0, 10))).toBe(true);

    // The facts come from the signals table, through the prompt the server built.
    const facts = describeSignal(
      { direction: signal.direction, score: signal.score, entry: signal.entry, stop: signal.stop, takeProfit: signal.take_profit, candleTime: signal.candle_time.toISOString() },
      new Date(),
    );
    const head = facts.split(' (')[0]!; // "LONG"
    expect(text).toContain(`signal ${head}`);
    expect(text).toContain(facts.slice(facts.indexOf('), ') + 3).split(':')[0]!); // "score 62 · strong, 62 of 100 past calls like it …"
    if (signal.direction !== 'flat') expect(text).toContain(facts.slice(facts.indexOf(': ') + 2)); // entry, stop, take-profit
    // …and the pair's measured edge rides along with the signal to the provider.
    expect(text).toContain(`edge: ${describeEdge('BTC/USDT', '1h', signal.edge!)}`);
    expect(await answer.getByTestId('provider-badge').textContent()).toContain('xai');

    const requestId = (await answer.getAttribute('data-answer-id'))!;
    const charged = await chargeOf(stack.server, requestId);
    expect(charged).toBeGreaterThan(0);
    await expect.poll(() => shownBalance(page)).toBe(before - charged);
    expect(await ledgerBalance(stack.server, userId)).toBe(before - charged);
    expect(await answer.getByTestId('answer-cost').textContent()).toBe(`${charged} ${charged === 1 ? 'credit' : 'credits'}`);
    await saveScreenshot(page, '03-chat-streamed-answer');
    expect(app.errors).toEqual([]);
  });

  it('stops an answer mid-stream: the provider is cut off and only the delivered part is charged', { timeout: JOURNEY_MS }, async () => {
    const { app, userId } = await signedIn(browser, stack.server);
    track(app);
    const { page } = app;
    const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    stack.llm.script({ text: `A long market essay. ${words}`, tokenDelayMs: 40 });
    const requestsBefore = stack.llm.requests.length;
    const before = await shownBalance(page);

    const answer = await ask(page, 'Write me a long essay about the market');
    await expect.poll(async () => ((await answer.locator('.markdown').textContent()) ?? '').length, { timeout: 15_000 }).toBeGreaterThan(40);
    await page.getByTestId('stop').click();
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 10_000 }).toBe('aborted');

    const upstream = stack.llm.requests[requestsBefore]!;
    expect(await upstream.ended).toBe('client-disconnected');
    expect(upstream.unitsSent).toBeLessThan(150);
    const stoppedText = (await answer.locator('.markdown').textContent()) ?? '';
    expect(stoppedText).not.toContain('word199');
    await page.waitForTimeout(300);
    expect((await answer.locator('.markdown').textContent()) ?? '').toBe(stoppedText);
    await page.getByTestId('send').waitFor(); // the composer is usable again

    const charged = await chargeOf(stack.server, (await answer.getAttribute('data-answer-id'))!);
    expect(charged).toBeGreaterThan(0);
    await expect.poll(() => shownBalance(page)).toBe(before - charged);
    expect(await ledgerBalance(stack.server, userId)).toBe(before - charged);
    expect(await answer.getByTestId('answer-cost').textContent()).toMatch(new RegExp(`^(≈ )?${charged} credits?$`));
    expect(app.errors).toEqual([]);
  });

  it('voice mode plays the streamed speech on the page’s audio element', { timeout: JOURNEY_MS }, async () => {
    const { app } = await signedIn(browser, stack.server);
    track(app);
    const { page } = app;
    await page.getByTestId('voice-toggle').click();
    expect(await page.getByTestId('voice-toggle').getAttribute('aria-checked')).toBe('true');
    const ttsBefore = stack.tts.requests.length;
    stack.llm.script({ text: 'Bitcoin is range bound today. Watch the levels closely. Risk stays moderate for now.' });

    const answer = await ask(page, 'Give me a quick spoken update');
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    expect(stack.tts.requests.length).toBeGreaterThan(ttsBefore);
    // Played by the browser: the element has a played range and its clock moved.
    await expect
      .poll(() => page.getByTestId('voice-audio').evaluate((a: HTMLAudioElement) => ({ played: a.played.length > 0, moved: a.currentTime > 0, error: a.error?.message ?? null })), {
        timeout: 10_000,
      })
      .toEqual({ played: true, moved: true, error: null });
    const [row] = await stack.server.chatDb.query<{ voice_characters: number }>(
      `select voice_characters from public.credits_ledger where request_id = $1 and reason = 'settle'`,
      [await answer.getAttribute('data-answer-id')],
    );
    expect(row!.voice_characters).toBeGreaterThan(0);
    expect(app.errors).toEqual([]);
  });

  it('tells a user without credits so, and does not call the model', { timeout: JOURNEY_MS }, async () => {
    const { app, userId } = await signedIn(browser, stack.server);
    track(app);
    const { page } = app;
    const balance = await ledgerBalance(stack.server, userId);
    await stack.server.chatDb.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, $2, 'adjustment', $3)`, [
      userId,
      -balance,
      `e2e-drain:${userId}`,
    ]);
    await page.reload();
    await page.locator('.conn.conn-connected').waitFor();
    await expect.poll(() => shownBalance(page)).toBe(0);
    const requestsBefore = stack.llm.requests.length;

    const answer = await ask(page, 'what’s the signal for BTC?');
    const error = answer.getByTestId('chat-error');
    await error.waitFor();
    expect(await error.getAttribute('data-code')).toBe('insufficient_credits');
    expect(await error.textContent()).toContain('run out of credits');
    expect(await answer.getAttribute('data-status')).toBe('error');
    expect(stack.llm.requests.length).toBe(requestsBefore);
    expect(await ledgerBalance(stack.server, userId)).toBe(0);
    await saveScreenshot(page, '06-insufficient-credits');
  });

  it('fits a phone screen: tabs switch sections and nothing scrolls sideways', { timeout: JOURNEY_MS }, async () => {
    const { app } = await signedIn(browser, stack.server, PHONE);
    track(app);
    const { page } = app;
    await page.getByRole('button', { name: 'Watchlist' }).click();
    await addPair(page, 'BTC/USDT');
    await pipelineSignal(stack, 'BTC/USDT');
    await page.locator('[data-testid="symbol-row"][data-symbol="BTC/USDT"] .row-signal').waitFor({ timeout: 15_000 });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    expect(await page.getByTestId('chat-input').isVisible()).toBe(false);
    await saveScreenshot(page, '05-phone-watchlist');

    await page.getByRole('button', { name: 'Chat', exact: true }).click();
    await page.getByTestId('chat-input').waitFor({ state: 'visible' });
    const answer = await ask(page, 'what’s the signal for BTC?');
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    expect(await overflow()).toBeLessThanOrEqual(0);
    await saveScreenshot(page, '05-phone-chat');
    expect(app.errors).toEqual([]);
  });
});

describe.skipIf(unavailable !== null)('web client in Chromium with short-lived access tokens', () => {
  let browser: Browser;
  let stack: E2eStack;
  let app: AppPage | undefined;

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), startStack({ pipeline: false, env: { ACCESS_TOKEN_TTL_SECONDS: '3' } })]);
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await browser?.close();
    await stack?.close();
  });
  afterEach(() => expect(app?.cspViolations ?? []).toEqual([]));

  it('recovers from expired access tokens, awake or after the tab slept, and answers still arrive', { timeout: JOURNEY_MS }, async () => {
    app = await openApp(browser, stack.server);
    const { page } = app;
    const refreshes: number[] = [];
    const sockets: number[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/auth/v1/token') && r.url().includes('grant_type=refresh_token')) refreshes.push(Date.now());
    });
    const expiredNotices: number[] = [];
    page.on('websocket', (ws) => {
      if (!ws.url().includes('/socket.io/')) return;
      sockets.push(Date.now());
      ws.on('framereceived', (frame) => {
        if (typeof frame.payload === 'string' && frame.payload.includes('"auth:expired"')) expiredNotices.push(Date.now());
      });
    });
    await signUpInUi(page, newEmail('expiry'));

    // Awake: the server disconnects the socket when its token expires
    // (auth:expired); the client refreshes the session and reconnects.
    await page.waitForTimeout(4_000);
    await page.locator('.conn.conn-connected').waitFor();
    expect(expiredNotices.length).toBeGreaterThan(0);
    expect(refreshes.some((t) => t > expiredNotices[0]!)).toBe(true);
    expect(sockets.some((t) => t > expiredNotices[0]!)).toBe(true);
    const expiredNoticesAwake = expiredNotices.length;
    const first = await ask(page, 'Are you still there?');
    await expect.poll(() => first.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');

    // Asleep (a frozen tab, like a laptop lid closed): nothing runs while the
    // token expires; on waking the stale socket and session must recover
    // before the question goes out, without asking the user to sign in.
    // Asleep with a socket connected (not mid-reconnect after a refresh), so the server has one to tell. A token
    // refreshed while the answer streamed is put to use by a reconnect as the answer ends: let that one start first.
    await page.waitForTimeout(500);
    await page.locator('.conn.conn-connected').waitFor();
    const wokeAt = await whileAsleep(app, 4_500);
    const expiredNoticesBeforeWaking = expiredNotices.length;
    const second = await ask(page, 'And now?');
    await expect.poll(() => second.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    expect(await second.locator('.markdown').textContent()).toContain('no market data');
    // The server told the sleeping tab its token expired; it refreshed once awake.
    expect(expiredNoticesBeforeWaking).toBeGreaterThan(expiredNoticesAwake);
    expect(refreshes.some((t) => t >= wokeAt)).toBe(true);
    expect(await page.getByTestId('sign-in').count()).toBe(0);
    // A request that raced the refresh may meet a 401; the API client refreshes and retries it
    // (api.client.ts), and Chromium logs the first answer anyway. Anything else is an error.
    expect(app.errors.filter((e) => !/responded with a status of 401/.test(e))).toEqual([]);
  });
});

// In this file (not its own) because it needs dist/client, which only this file may build.
describe('built client bundle', () => {
  it('ships no secret: no server-side variable, key or secret value reaches the browser', { timeout: 120_000 }, async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const path = await import('node:path');
    const { CLIENT_DIST } = await import('../../scripts/client-build');
    const { ensureClient } = await import('./stack');
    const { startTestServer } = await import('../test-server');
    await ensureClient();
    const files = (await readdir(CLIENT_DIST, { recursive: true, withFileTypes: true })).filter((f) => f.isFile());
    expect(files.some((f) => f.name.endsWith('.js'))).toBe(true);
    const bundle = (await Promise.all(files.map((f) => readFile(path.join(f.parentPath, f.name), 'utf8')))).join('\n');

    const server = await startTestServer({ XAI_API_KEY: 'xai-secret-provider-key' });
    try {
      for (const name of ['SUPABASE_JWT_SECRET', 'WEBHOOK_SECRET', 'XAI_API_KEY', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'ELEVENLABS_API_KEY', 'DATABASE_URL', 'service_role', 'process.env']) {
        expect(bundle, `bundle mentions ${name}`).not.toContain(name);
      }
      expect(bundle).not.toContain(server.jwtSecret);
      expect(bundle).not.toMatch(/postgres(ql)?:\/\//);
      // The only runtime configuration the browser gets is public.
      const config = await (await fetch(`${server.url}/api/config`)).json();
      expect(Object.keys(config).sort()).toEqual(['marketData', 'supabaseAnonKey', 'supabaseUrl']);
      expect(config.marketData).toBe('simulated');
      expect(JSON.stringify(config)).not.toContain('xai-secret-provider-key');
      expect(JSON.parse(Buffer.from(config.supabaseAnonKey.split('.')[1], 'base64url').toString()).role).toBe('anon');
    } finally {
      await server.close();
    }
  });
});
