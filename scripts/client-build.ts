import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
export const CLIENT_DIST = path.join(ROOT, 'dist/client');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.endsWith('.test.ts')) continue;
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** True when dist/client is missing or older than the client's sources (client/, common/, vite.config.ts). */
export function clientBuildIsStale(): boolean {
  const index = path.join(CLIENT_DIST, 'index.html');
  if (!existsSync(index)) return true;
  const sources = Math.max(newestMtime(path.join(ROOT, 'client')), newestMtime(path.join(ROOT, 'common')), statSync(path.join(ROOT, 'vite.config.ts')).mtimeMs);
  return sources > statSync(index).mtimeMs;
}

/** Builds the web client with Vite when it is stale, so `npm start` serves the current UI without a separate step. */
export async function ensureClientBuilt(log: (message: string) => void = () => undefined): Promise<boolean> {
  if (!clientBuildIsStale()) return false;
  return withBuildLock(async () => {
    // Another process may have built it while we waited for the lock.
    if (!clientBuildIsStale()) return false;
    log('building the web client (vite build)…');
    const { build } = await import('vite');
    await build({ configFile: path.join(ROOT, 'vite.config.ts'), logLevel: 'warn' });
    return true;
  });
}

const LOCK = path.join(ROOT, 'dist/.client-build.lock');
const STALE_LOCK_MS = 5 * 60_000;

/**
 * One build at a time across processes (test files run in parallel workers,
 * and two Vite builds into one outDir corrupt each other). mkdir is atomic; a
 * lock left by a killed build is taken over after 5 minutes.
 */
async function withBuildLock<T>(work: () => Promise<T>): Promise<T> {
  mkdirSync(path.dirname(LOCK), { recursive: true });
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
