import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addPair, ask, openApp, PHONE, signedIn, type AppPage } from './app-page';
import { seriousA11yViolations } from './axe';
import { browserUnavailableReason, launchBrowser } from './browser';
import { pipelineSignal, startStack, type E2eStack } from './stack';

/** Every screen passes axe-core with no serious or critical violation (desktop and phone width). */
const unavailable = browserUnavailableReason();
if (unavailable) console.warn(`[e2e] browser tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('accessibility of every screen (axe-core in Chromium)', () => {
  let browser: Browser;
  let stack: E2eStack;
  const apps: AppPage[] = [];

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), startStack({ tokenDelayMs: 5 })]);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close().catch(() => undefined)));
    await browser?.close();
    await stack?.close();
  });
  afterEach(() => {
    expect(apps.flatMap((app) => app.cspViolations.splice(0))).toEqual([]);
  });

  it('sign-in screen', { timeout: 60_000 }, async () => {
    const app = await openApp(browser, stack.server);
    apps.push(app);
    await app.page.getByTestId('sign-up').waitFor();
    expect(await seriousA11yViolations(app.page)).toEqual([]);
  });

  it('workspace: watchlist with a signal, alert, answer, credits panel, signal detail with its chart, and phone width', { timeout: 90_000 }, async () => {
    const { app } = await signedIn(browser, stack.server);
    apps.push(app);
    const { page } = app;
    const findings: Record<string, unknown> = {};
    findings.empty = await seriousA11yViolations(page);

    await addPair(page, 'BTC/USDT');
    await pipelineSignal(stack, 'BTC/USDT');
    await page.getByTestId('signal-alert').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="symbol-row"][data-symbol="BTC/USDT"] .row-signal').waitFor();
    const answer = await ask(page, 'what is the signal for BTC?');
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    findings.workspace = await seriousA11yViolations(page);

    await page.getByTestId('balance').click();
    await page.getByTestId('spend-item').first().waitFor();
    findings.credits = await seriousA11yViolations(page);
    await page.keyboard.press('Escape');

    await page.getByTestId('signal-feed-item').first().click();
    const dialog = page.locator('dialog.detail');
    await dialog.locator('.chart canvas').first().waitFor();
    findings.detail = await seriousA11yViolations(page);
    await dialog.getByRole('button', { name: 'Close signal details' }).click();

    // One level-one heading (axe counts its absence as moderate, the issue as a defect).
    expect(await page.locator('h1').count()).toBe(1);

    // At phone width each section is its own tab.
    await page.setViewportSize(PHONE);
    const phone: unknown[] = [];
    for (const tab of ['Chat', 'Watchlist', 'Signals']) {
      await page.locator('nav.tabs button', { hasText: tab }).click();
      phone.push(...(await seriousA11yViolations(page)));
    }
    findings.phone = phone;
    expect(findings).toEqual({ empty: [], workspace: [], credits: [], detail: [], phone: [] });
  });
});
