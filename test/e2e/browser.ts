import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * The real browser for the end-to-end tests: Debian's `chromium` (npm cannot
 * download one here), driven by playwright-core. `.ci/run` installs it when it
 * is missing; without it the browser tests skip and say why.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../test-output/screenshots');

// Headless in a container: no sandbox (often root, no user namespaces), no GPU,
// no background traffic to Google, and audio may start without a click (the
// voice test plays the answer the moment its first chunk arrives).
const LAUNCH_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

/** Why the browser tests cannot run here, or null when they can. */
export function browserUnavailableReason(): string | null {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return null;
  } catch {
    return `${CHROMIUM_PATH} not found: install Debian's chromium (\`apt-get install -y chromium\`, as .ci/run does) or set CHROMIUM_PATH to run the browser tests`;
  }
}

/** A fresh headless Chromium; playwright gives it a throw-away profile directory. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: LAUNCH_ARGS, timeout: 30_000 });
}

/** Saves a full-page PNG under test-output/screenshots for a reviewer to look at. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

/**
 * Collects what the page complains about (uncaught errors, console errors), so
 * a test can show them when it fails and assert that a journey ran clean.
 */
export function watchPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return errors;
}

/**
 * Collects every Content-Security-Policy violation in any page of `context`:
 * the `securitypolicyviolation` DOM event (reported through a binding, which
 * CSP does not govern) and Chromium's console line about it. Call before the
 * first page opens.
 */
export async function watchCspViolations(context: BrowserContext): Promise<string[]> {
  const violations: string[] = [];
  await context.exposeBinding('__e2eCspViolation', (_source, v: { directive: string; blocked: string; sample: string; url: string }) => {
    violations.push(`securitypolicyviolation: ${v.directive} blocked ${v.blocked || '(inline)'} ${v.sample} at ${v.url}`);
  });
  await context.addInitScript(() => {
    document.addEventListener(
      'securitypolicyviolation',
      (e) => {
        const report = (window as unknown as { __e2eCspViolation?: (v: unknown) => void }).__e2eCspViolation;
        report?.({ directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample, url: e.documentURI });
      },
      true,
    );
  });
  context.on('console', (msg) => {
    if (/Content[- ]Security[- ]Policy/i.test(msg.text())) violations.push(`console: ${msg.text()}`);
  });
  return violations;
}

/**
 * Simulates a sleeping tab (laptop lid closed, tab frozen): the page's script
 * is paused in the debugger, so no timer, socket event or refresh runs, while
 * the server and the network go on. Returns when it woke up.
 */
export async function whileAsleep(app: { context: BrowserContext; page: Page }, ms: number): Promise<number> {
  const cdp = await app.context.newCDPSession(app.page);
  await cdp.send('Debugger.enable');
  await cdp.send('Debugger.pause');
  await new Promise((resolve) => setTimeout(resolve, ms));
  const wokeAt = Date.now();
  await cdp.send('Debugger.resume');
  await cdp.send('Debugger.disable');
  await cdp.detach();
  return wokeAt;
}
