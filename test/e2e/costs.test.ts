import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ask, ledgerBalance, newEmail, openApp, PASSWORD, shownBalance, signInInUi, type AppPage } from './app-page';
import { browserUnavailableReason, launchBrowser, saveScreenshot } from './browser';
import { startStack, type E2eStack } from './stack';

/** Costs in sight, in Chromium: the Voice price, the low-balance notice, a small balance still answered, spend per question. */
const unavailable = browserUnavailableReason();
if (unavailable) console.warn(`[e2e] browser tests skipped: ${unavailable}`);

const JOURNEY_MS = 60_000;

describe.skipIf(unavailable !== null)('costs in sight (Chromium)', () => {
  let browser: Browser;
  let stack: E2eStack;
  const apps: AppPage[] = [];

  /** A new account left with `balance` credits (an operator's adjustment row), signed in through the UI. */
  async function traderWith(balance: number) {
    const email = newEmail('costs');
    const { userId, accessToken } = await stack.server.signUp(email, PASSWORD);
    await stack.server.chatDb.query(`insert into public.credits_ledger (user_id, delta, reason, request_id) values ($1, $2, 'adjustment', 'e2e-adjust')`, [
      userId,
      balance - (await ledgerBalance(stack.server, userId)),
    ]);
    const app = await openApp(browser, stack.server);
    apps.push(app);
    await signInInUi(app.page, email);
    const prices = await (await fetch(`${stack.server.url}/api/credits/prices`, { headers: { authorization: `Bearer ${accessToken}` } })).json();
    return { app, page: app.page, userId, prices };
  }

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), startStack({ pipeline: false, tokenDelayMs: 5 })]);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close().catch(() => undefined)));
    await browser?.close();
    await stack?.close();
  });
  afterEach(() => {
    expect(apps.flatMap((app) => app.cspViolations.splice(0))).toEqual([]);
  });

  it('shows what Voice adds to an answer on its toggle, as the server prices it', { timeout: JOURNEY_MS }, async () => {
    const { page, prices } = await traderWith(1000);
    expect(prices.voice.perAnswer).toBeGreaterThan(0);
    const label = page.getByTestId('voice-price');
    await expect.poll(() => label.textContent()).toBe(`≈ +${prices.voice.perAnswer} credits per answer`);
    // The price is announced with the toggle, not only painted next to it.
    const describedBy = await page.getByTestId('voice-toggle').getAttribute('aria-describedby');
    expect(await page.locator(`[id="${describedBy}"]`).textContent()).toContain('credits per answer');
    await expect.poll(() => page.getByTestId('low-balance').count()).toBe(0);
  });

  it('warns of a low balance, still answers a user with 30 credits (shorter), and lists the spend per question', { timeout: JOURNEY_MS }, async () => {
    const { page, userId, prices } = await traderWith(30);
    expect(await shownBalance(page)).toBe(30);
    // Voice on: a full spoken answer costs far more than 30 credits.
    await page.getByTestId('voice-toggle').click();
    expect(prices.fullAnswer + prices.voice.upTo).toBeGreaterThan(30);
    const notice = page.getByTestId('low-balance');
    await notice.waitFor();
    // No empty audio player before there is anything to play.
    expect(await page.getByTestId('voice-audio').isVisible()).toBe(false);
    expect(await notice.textContent()).toContain('Low balance: 30 credits left');
    await saveScreenshot(page, 'costs-low-balance');

    const answer = await ask(page, 'What is BTC doing?');
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    expect(((await answer.textContent()) ?? '').length).toBeGreaterThan(10);
    // The spoken answer arrived: now the player shows.
    await expect.poll(() => page.getByTestId('voice-audio').isVisible()).toBe(true);
    // The provider was asked for a capped answer that 30 credits pay for, not refused.
    const cap = stack.llm.requests.at(-1)!.body.max_tokens as number;
    expect(cap).toBeGreaterThanOrEqual(64);
    expect(cap).toBeLessThan(prices.maxOutputTokens);
    const left = await ledgerBalance(stack.server, userId);
    expect(left).toBeGreaterThanOrEqual(0);
    await expect.poll(() => shownBalance(page)).toBe(left);

    // The credits panel: the question, its provider, text and voice credits, and the totals.
    await page.getByTestId('balance').click();
    const item = page.getByTestId('spend-item').first();
    await item.waitFor();
    const text = (await item.textContent()) ?? '';
    expect(text).toContain('What is BTC doing?');
    expect(text).toContain('Grok');
    expect(text).toMatch(/text \d+/);
    expect(await item.getByTestId('spend-credits').textContent()).toBe(String(30 - left));
    expect(await page.getByTestId('spend-totals').textContent()).toContain(`1 question: ${30 - left} credits`);
    await saveScreenshot(page, 'costs-spend');
  });
});
