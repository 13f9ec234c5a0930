import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ask, newEmail, openApp, PASSWORD, signInInUi, type AppPage } from './app-page';
import { browserUnavailableReason, launchBrowser } from './browser';
import { startStack, type E2eStack } from './stack';

/** A tier without voice, in Chromium: the Voice switch is off and disabled, and questions are still answered (in text). */
const unavailable = browserUnavailableReason();
if (unavailable) console.warn(`[e2e] browser tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('tiers in the app (Chromium)', () => {
  let browser: Browser;
  let stack: E2eStack;
  const apps: AppPage[] = [];

  beforeAll(async () => {
    [browser, stack] = await Promise.all([launchBrowser(), startStack({ pipeline: false, tokenDelayMs: 5 })]);
    // An operator's tier without spoken answers (a row of the tier table, as the database owner).
    await stack.server.chatDb.query(`insert into public.tier_grants (tier, starting_credits, voice_allowed) values ('basic', 1000, false)`);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close().catch(() => undefined)));
    await browser?.close();
    await stack?.close();
  });
  afterEach(() => {
    expect(apps.flatMap((app) => app.cspViolations.splice(0))).toEqual([]);
  });

  it('disables the Voice switch for a tier without voice, even when it was left on, and answers in text', { timeout: 90_000 }, async () => {
    const email = newEmail('tiers');
    const { userId } = await stack.server.signUp(email, PASSWORD);
    await stack.server.chatDb.query(`update public.profiles set tier = 'basic' where user_id = $1`, [userId]);
    const app = await openApp(browser, stack.server);
    apps.push(app);
    // Voice was left on in this browser by an earlier session.
    await app.page.evaluate(() => localStorage.setItem('zmarty.voice', 'on'));
    await signInInUi(app.page, email);

    const toggle = app.page.getByTestId('voice-toggle');
    await expect.poll(() => toggle.isDisabled()).toBe(true);
    expect(await toggle.getAttribute('aria-checked')).toBe('false');
    expect(await toggle.getAttribute('title')).toBe('Spoken answers are not included in your tier');

    const ttsBefore = stack.tts.requests.length;
    const answer = await ask(app.page, 'What is BTC doing?');
    await expect.poll(() => answer.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    expect(((await answer.textContent()) ?? '').length).toBeGreaterThan(10);
    expect(stack.tts.requests.length).toBe(ttsBefore);
  });
});
