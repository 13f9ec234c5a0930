import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ask, chargeOf, openApp, signedIn, signInInUi, waitLive, type AppPage } from './app-page';
import { browserUnavailableReason, launchBrowser, saveScreenshot } from './browser';
import { startStack, type E2eStack } from './stack';

/**
 * Conversations in Chromium: memory across turns (the provider's recorded
 * requests show what the server sent), history from the server in a second
 * browser, a reload mid-answer that resumes the stream, and sign-out that
 * leaves no chat data in the browser.
 */
const unavailable = browserUnavailableReason();
if (unavailable) console.warn(`[e2e] browser tests skipped: ${unavailable}`);

const JOURNEY_MS = 60_000;
const answerText = async (page: Page, nth: number) => ((await page.getByTestId('answer').nth(nth).locator('.markdown').textContent()) ?? '').trim();
const completed = (page: Page, nth: number) => expect.poll(() => page.getByTestId('answer').nth(nth).getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
const storage = (page: Page) =>
  page.evaluate(() =>
    [localStorage, sessionStorage].flatMap((s) => Array.from({ length: s.length }, (_, i) => s.key(i)!).map((key) => ({ key, value: s.getItem(key) ?? '' }))),
  );

describe.skipIf(unavailable !== null)('conversations in Chromium', () => {
  let browser: Browser;
  let stack: E2eStack;
  const apps: AppPage[] = [];
  const track = (app: AppPage) => (apps.push(app), app);

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

  it('remembers the conversation: "and ETH?" reaches the provider after the BTC turn, and another browser shows the same history', { timeout: JOURNEY_MS }, async () => {
    const { app, email } = await signedIn(browser, stack.server);
    track(app);
    const { page } = app;
    stack.llm.script({ text: 'BTC/USDT is long with a score of 70.' });
    await ask(page, 'What is the signal for BTC?');
    await completed(page, 0);
    stack.llm.script({ text: 'ETH/USDT is flat.' });
    const before = stack.llm.requests.length;
    await ask(page, 'and ETH?');
    await completed(page, 1);

    const sent = stack.llm.requests[before]!.body.messages.filter((m: { role: string }) => m.role !== 'system');
    expect(sent).toEqual([
      { role: 'user', content: 'What is the signal for BTC?' },
      { role: 'assistant', content: 'BTC/USDT is long with a score of 70.' },
      { role: 'user', content: 'and ETH?' },
    ]);
    const item = page.getByTestId('conversation-item');
    await expect.poll(() => item.count()).toBe(1);
    expect(await item.textContent()).toBe('What is the signal for BTC?');
    await saveScreenshot(page, '07-conversation-follow-up');

    // Another browser (its own storage), the same account: the history comes from the server.
    const other = track(await openApp(browser, stack.server));
    await signInInUi(other.page, email);
    await expect.poll(() => other.page.getByTestId('answer').count()).toBe(2);
    expect(await answerText(other.page, 0)).toBe('BTC/USDT is long with a score of 70.');
    expect(await answerText(other.page, 1)).toBe('ETH/USDT is flat.');

    // Renamed there, continued here with the new title; then deleted.
    await other.page.getByTestId('rename-conversation').click();
    await other.page.getByTestId('conversation-title-input').fill('Majors this week');
    await other.page.getByTestId('save-title').click();
    await expect.poll(() => other.page.getByTestId('conversation-item').textContent()).toBe('Majors this week');
    const conversationId = (await other.page.getByTestId('conversation-item').getAttribute('data-conversation-id'))!;
    const [row] = await stack.server.chatDb.query('select title from public.conversations where id = $1', [conversationId]);
    expect(row).toEqual({ title: 'Majors this week' });
    await page.evaluate(() => window.dispatchEvent(new Event('focus')));
    await expect.poll(() => page.getByTestId('conversation-item').textContent()).toBe('Majors this week');

    await page.getByTestId('new-conversation').click();
    expect(await page.getByTestId('answer').count()).toBe(0);
    stack.llm.script({ text: 'SOL is range bound.' });
    const fresh = stack.llm.requests.length;
    await ask(page, 'SOL?');
    await completed(page, 0);
    expect(stack.llm.requests[fresh]!.body.messages.filter((m: { role: string }) => m.role !== 'system')).toEqual([{ role: 'user', content: 'SOL?' }]);
    await expect.poll(() => page.getByTestId('conversation-item').count()).toBe(2);

    await page.locator(`[data-testid="conversation-item"][data-conversation-id="${conversationId}"]`).click();
    await expect.poll(() => page.getByTestId('answer').count()).toBe(2);
    await page.getByTestId('delete-conversation').click();
    await page.getByTestId('confirm-delete').click();
    await expect.poll(() => page.getByTestId('conversation-item').count()).toBe(1);
    expect(await page.getByTestId('answer').count()).toBe(0);
    expect(await stack.server.chatDb.query('select id from public.conversations where id = $1', [conversationId])).toEqual([]);
    expect(app.errors).toEqual([]);
    expect(other.errors).toEqual([]);
  });

  it('resumes an answer after a reload mid-stream and shows it whole, charged once', { timeout: JOURNEY_MS }, async () => {
    const { app } = await signedIn(browser, stack.server);
    track(app);
    const { page } = app;
    const full = `A long market essay. ${Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ')}`;
    stack.llm.script({ text: full, tokenDelayMs: 30 });
    const answer = await ask(page, 'Write me a long essay about the market');
    const id = (await answer.getAttribute('data-answer-id'))!;
    await expect.poll(async () => (await answerText(page, 0)).length, { timeout: 15_000 }).toBeGreaterThan(40);

    await page.reload();
    await waitLive(page);
    const resumed = page.locator(`[data-testid="answer"][data-answer-id="${id}"]`);
    await resumed.waitFor();
    // Still streaming after the reload: the stream was resumed, not read back from the database.
    expect(await resumed.getAttribute('data-status')).not.toBe('complete');
    await expect.poll(() => resumed.getAttribute('data-status'), { timeout: 20_000 }).toBe('complete');
    expect(((await resumed.locator('.markdown').textContent()) ?? '').replace(/\s+/g, ' ').trim()).toBe(full);
    expect(await chargeOf(stack.server, id)).toBeGreaterThan(0);
    expect((await storage(page)).filter((e) => e.key.includes('inflight'))).toEqual([]);

    // An answer the server can no longer replay (finished long ago) is read from the conversation instead.
    const conversationId = (await page.getByTestId('conversation-item').getAttribute('data-conversation-id'))!;
    const userId = await page.evaluate(() => Object.keys(sessionStorage).find((k) => k.startsWith('zmarty.chat.current.'))!.slice('zmarty.chat.current.'.length));
    await page.evaluate(
      ({ key, record }) => sessionStorage.setItem(key, JSON.stringify(record)),
      { key: `zmarty.chat.inflight.${userId}`, record: { id: 'finished-long-ago', conversationId, question: 'gone?', voice: false, text: 'par', nextSeq: 1 } },
    );
    await page.reload();
    await waitLive(page);
    await expect.poll(() => page.getByTestId('answer').count()).toBe(1);
    await expect.poll(() => page.getByTestId('answer').first().getAttribute('data-status')).toBe('complete');
    expect(await page.getByTestId('chat-error').count()).toBe(0);
    expect(((await answerText(page, 0)) ?? '').replace(/\s+/g, ' ').trim()).toBe(full);
    expect(app.errors).toEqual([]);
  });

  it('leaves no chat data in localStorage or sessionStorage after sign-out, and the history is back after signing in', { timeout: JOURNEY_MS }, async () => {
    const { app, email } = await signedIn(browser, stack.server);
    track(app);
    const { page } = app;
    stack.llm.script({ text: 'Private answer about my BTC position.' });
    await ask(page, 'My secret BTC position question');
    await completed(page, 0);
    // Mid-answer at sign-out: the in-flight record must go too.
    stack.llm.script({ text: `Streaming ${'slowly '.repeat(80)}`, tokenDelayMs: 40 });
    await ask(page, 'Another private question');
    await expect.poll(async () => (await storage(page)).some((e) => e.key.startsWith('zmarty.chat.inflight.'))).toBe(true);

    await page.getByTestId('sign-out').click();
    await page.getByTestId('sign-in').waitFor();
    const left = await storage(page);
    expect(left.filter((e) => e.key.startsWith('zmarty.chat.'))).toEqual([]);
    for (const text of ['secret BTC position', 'Private answer', 'Another private question', 'Streaming']) {
      expect(left.filter((e) => e.value.includes(text)), text).toEqual([]);
    }

    await signInInUi(page, email);
    await expect.poll(() => page.getByTestId('conversation-item').count()).toBe(1);
    await expect.poll(() => page.getByTestId('answer').count()).toBe(2);
    expect(await answerText(page, 0)).toBe('Private answer about my BTC position.');
    expect(app.errors).toEqual([]);
  });
});
