import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sendJson, startLoopback, type Loopback } from '../../pipeline/market/fixtures/loopback-server';
import { startTestServer, type TestServer } from '../test-server';
import { addPair, signedIn, type AppPage } from './app-page';
import { browserUnavailableReason, launchBrowser, saveScreenshot } from './browser';
import { ensureClient, startStack, type E2eStack } from './stack';

/**
 * Only real pairs, seen in Chromium: a made-up pair is refused with close
 * suggestions on screen and never reaches the database, and the simulated
 * market says it is simulated (a real exchange feed does not).
 */
const unavailable = browserUnavailableReason();
if (unavailable) console.warn(`[e2e] browser tests skipped: ${unavailable}`);

const JOURNEY_MS = 60_000;

describe.skipIf(unavailable !== null)('pairs in Chromium', () => {
  let browser: Browser;
  let stack: E2eStack;
  const apps: AppPage[] = [];
  const track = (app: AppPage) => (apps.push(app), app);
  const watchedRows = async (server: TestServer, userId: string) =>
    (await server.chatDb.query<{ symbol: string }>('select symbol from public.user_symbols where user_id = $1 order by id', [userId])).map((r) => r.symbol);

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), startStack({ pipeline: false })]);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close().catch(() => undefined)));
    await browser?.close();
    await stack?.close();
  });
  afterEach(() => {
    expect(apps.flatMap((app) => app.cspViolations.splice(0))).toEqual([]);
  });

  it('unknown pair refused: FOO/BAR and a typo are refused with the suggestion shown, a real pair is added; the simulated market says so', { timeout: JOURNEY_MS }, async () => {
    const { app, userId } = await signedIn(browser, stack.server);
    track(app);
    const { page } = app;

    const notice = page.getByTestId('market-notice');
    await expect.poll(() => notice.textContent()).toContain('Simulated market data');
    expect(await notice.isVisible()).toBe(true);

    const tryAdd = async (symbol: string) => {
      await page.getByTestId('symbol-input').fill(symbol);
      await page.getByTestId('add-symbol').click();
      const alert = page.locator('.col-watchlist .form-error[role="alert"]');
      await alert.waitFor();
      return alert;
    };

    const refused = await tryAdd('FOO/BAR');
    await expect.poll(() => refused.textContent()).toContain('FOO/BAR is not traded on the simulated market.');

    const typo = await tryAdd('BTC/USTD');
    await expect.poll(() => typo.textContent()).toContain('BTC/USTD is not traded on the simulated market. Did you mean BTC/USDT, BTC/USDC?');
    await saveScreenshot(page, 'pairs-unknown-refused');
    expect(await page.locator('[data-testid="symbol-row"]').count()).toBe(0);
    expect(await watchedRows(stack.server, userId)).toEqual([]);

    await addPair(page, 'BTC/USDT');
    expect(await watchedRows(stack.server, userId)).toEqual(['BTC/USDT']);
    expect(app.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
  });

  describe('on Binance (exchangeInfo from a loopback exchange)', () => {
    let exchange: Loopback;
    let binance: TestServer;
    let binanceApp: AppPage | undefined;

    beforeAll(async () => {
      exchange = await startLoopback((_req, res) =>
        sendJson(res, 200, {
          timezone: 'UTC',
          serverTime: Date.now(),
          rateLimits: [],
          exchangeFilters: [],
          symbols: [
            { symbol: 'BTCUSDT', status: 'TRADING', baseAsset: 'BTC', quoteAsset: 'USDT', permissions: [], permissionSets: [['SPOT']], filters: [] },
            { symbol: 'ETHUSDT', status: 'TRADING', baseAsset: 'ETH', quoteAsset: 'USDT', permissions: [], permissionSets: [['SPOT']], filters: [] },
          ],
        }),
      );
      await ensureClient();
      binance = await startTestServer({ MARKET_DATA: 'binance', BINANCE_BASE_URL: exchange.url, MARKET_TIMEOUT_MS: '2000', DATABASE_POOL_MAX: '3' });
    });
    afterAll(async () => {
      // The page's socket first: the server drains open connections before it closes.
      await binanceApp?.close().catch(() => undefined);
      await binance?.close();
      await exchange?.close();
    });

    it('shows no simulated-market notice, refuses a pair Binance does not list and adds one it does', { timeout: JOURNEY_MS }, async () => {
      const { app, userId } = await signedIn(browser, binance);
      binanceApp = app;
      await app.page.getByTestId('symbol-input').fill('ETH/USDC');
      await app.page.getByTestId('add-symbol').click();
      const alert = app.page.locator('.col-watchlist .form-error[role="alert"]');
      await expect.poll(() => alert.textContent()).toContain('ETH/USDC is not traded on the binance market. Did you mean ETH/USDT?');
      await addPair(app.page, 'ETH/USDT');
      expect(await watchedRows(binance, userId)).toEqual(['ETH/USDT']);
      expect(await app.page.getByTestId('market-notice').count()).toBe(0);
      expect(app.cspViolations).toEqual([]);
      // One exchangeInfo request served both checks (the list is cached).
      expect(exchange.requests.filter((r) => r.path === '/api/v3/exchangeInfo')).toHaveLength(1);
    });
  });
});
