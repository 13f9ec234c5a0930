import { expect } from 'vitest';
import type { Browser, BrowserContext, Locator, Page, Response } from 'playwright-core';
import type { TestServer } from '../test-server';
import { watchCspViolations, watchPageErrors } from './browser';

/** What a journey drives: one browser context (its own storage) on the app. */
export interface AppPage {
  context: BrowserContext;
  page: Page;
  /** Uncaught errors and console errors the page reported. */
  errors: string[];
  /** Content-Security-Policy violations in any page of this context (must stay empty). */
  cspViolations: string[];
  /** The response that served the app's HTML document. */
  document: Response | null;
  close(): Promise<void>;
}

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1366, height: 860 };

let counter = 0;
export const newEmail = (tag: string) => `e2e-${tag}-${++counter}-${Date.now()}@example.com`;
export const PASSWORD = 'correct horse battery staple';

export async function openApp(browser: Browser, server: TestServer, viewport = DESKTOP): Promise<AppPage> {
  const context = await browser.newContext({ viewport, baseURL: server.url, locale: 'en-US', timezoneId: 'UTC' });
  context.setDefaultTimeout(15_000);
  const cspViolations = await watchCspViolations(context);
  const page = await context.newPage();
  const errors = watchPageErrors(page);
  const document = await page.goto('/');
  return { context, page, errors, cspViolations, document, close: () => context.close() };
}

async function fillCredentials(page: Page, email: string, password: string) {
  await page.getByTestId('email').fill(email);
  await page.getByTestId('password').fill(password);
}

/** Creates an account through the sign-in screen; the embedded auth signs the user in at once. */
export async function signUpInUi(page: Page, email: string, password = PASSWORD): Promise<void> {
  await fillCredentials(page, email, password);
  await page.getByTestId('sign-up').click();
  await waitLive(page);
}

export async function signInInUi(page: Page, email: string, password = PASSWORD): Promise<void> {
  await fillCredentials(page, email, password);
  await page.getByTestId('sign-in').click();
  await waitLive(page);
}

/** The workspace is up and its socket connected (the top bar says "Live"). */
export async function waitLive(page: Page, timeout = 15_000): Promise<void> {
  await page.locator('.conn.conn-connected').waitFor({ timeout });
  await expect.poll(() => page.getByTestId('balance').textContent(), { timeout }).toMatch(/\d/);
}

export async function addPair(page: Page, symbol: string): Promise<void> {
  await page.getByTestId('symbol-input').fill(symbol);
  await page.getByTestId('add-symbol').click();
  await page.locator(`[data-testid="symbol-row"][data-symbol="${symbol}"]`).waitFor();
}

/** Sends a question and returns its answer bubble (the newest one). */
export async function ask(page: Page, question: string): Promise<Locator> {
  const before = await page.getByTestId('answer').count();
  await page.getByTestId('chat-input').fill(question);
  await page.getByTestId('send').click();
  const answer = page.getByTestId('answer').nth(before);
  await answer.waitFor();
  return answer;
}

/** The balance the top bar shows, as a number ("1,000" → 1000). */
export async function shownBalance(page: Page): Promise<number> {
  const text = (await page.getByTestId('balance').textContent()) ?? '';
  const value = Number(text.replace(/,/g, ''));
  if (!Number.isFinite(value) || text.trim() === '') throw new Error(`balance shows "${text}"`);
  return value;
}

/** A fresh account (made through the API) signed in through the sign-in screen. */
export async function signedIn(browser: Browser, server: TestServer, viewport = DESKTOP): Promise<{ app: AppPage; email: string; userId: string }> {
  const email = newEmail('trader');
  const { userId } = await server.signUp(email, PASSWORD);
  const app = await openApp(browser, server, viewport);
  await signInInUi(app.page, email);
  return { app, email, userId };
}

// The database side, read as its owner: what the ledger says, not what the page says.

export async function userIdOf(server: TestServer, email: string): Promise<string> {
  const [row] = await server.chatDb.query<{ id: string }>('select id from auth.users where email = $1', [email]);
  if (!row) throw new Error(`no user ${email}`);
  return row.id;
}

export async function ledgerBalance(server: TestServer, userId: string): Promise<number> {
  const [row] = await server.chatDb.query<{ balance: number }>('select coalesce(sum(delta), 0)::int as balance from public.credits_ledger where user_id = $1', [
    userId,
  ]);
  return row!.balance;
}

/** Credits taken for one answer: its reserve and settle rows together. */
export async function chargeOf(server: TestServer, requestId: string): Promise<number> {
  const [row] = await server.chatDb.query<{ charged: number; rows: number }>(
    `select -coalesce(sum(delta), 0)::int as charged, count(*)::int as rows from public.credits_ledger
      where request_id = $1 and reason in ('reserve', 'settle')`,
    [requestId],
  );
  if (row!.rows !== 2) throw new Error(`request ${requestId} has ${row!.rows} reserve/settle rows, expected 2`);
  return row!.charged;
}
