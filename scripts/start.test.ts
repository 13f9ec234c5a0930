import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../common/embedded-postgres';

/**
 * `npm start` for real: the supervisor, embedded PostgreSQL in a temp
 * DATA_DIR, the web and worker children. Slow (each start boots three
 * processes), so only the essential cases.
 */
const ROOT = path.resolve(import.meta.dirname, '..');
type Line = Record<string, unknown> & { msg?: string };

interface Zmarty {
  process: ChildProcess;
  port: number;
  lines: Line[];
  exited: Promise<number | null>;
  until(what: string, match: (l: Line) => boolean, after?: number, timeoutMs?: number): Promise<Line>;
}

const dirs: string[] = [];
const started: Zmarty[] = [];

/** A root-only directory, as `mktemp -d` makes it: `npm start` must make it work for the database's OS user. */
async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-start-'));
  dirs.push(dir);
  return dir;
}

async function startZmarty(dataDir: string, extraEnv: Record<string, string> = {}): Promise<Zmarty> {
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...process.env,
    CHAT_DATABASE_URL: undefined,
    TRADING_DATABASE_URL: undefined,
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    // The client is not what this test is about; building it would take longer than the test.
    CLIENT_BUILD: 'skip',
    ...extraEnv,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/start.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  let buffer = '';
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const part of parts) {
      try {
        lines.push(JSON.parse(part) as Line);
      } catch {
        lines.push({ msg: part });
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const until = async (what: string, match: (l: Line) => boolean, after = 0, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.slice(after).find(match);
      if (found) return found;
      if (Date.now() > deadline || child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`no log line for ${what}; last lines:\n${lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const z = { process: child, port, lines, exited, until };
  started.push(z);
  return z;
}

async function healthy(port: number, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`/healthz answered ${status || 'nothing'}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const postgresPid = (dataDir: string) => Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
const childStarted = (name: string) => (l: Line) => l.msg === `${name} process started`;

afterEach(async () => {
  for (const z of started.splice(0)) {
    if (z.process.exitCode === null && z.process.signalCode === null) {
      z.process.kill('SIGTERM');
      await z.exited;
    }
  }
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('npm start (supervisor)', () => {
  it('restarts the web and the worker after kill -9, and SIGTERM stops everything including Postgres', { timeout: 240_000 }, async () => {
    const dataDir = await tempDataDir();
    const z = await startZmarty(dataDir);
    await z.until('the web server', (l) => String(l.msg).startsWith('Zmarty is running at'), 0, 120_000);
    await z.until('the pipeline', (l) => l.msg === 'pipeline started');
    await healthy(z.port);

    for (const name of ['web', 'worker']) {
      const first = (await z.until(`${name} start`, childStarted(name))).childPid as number;
      const mark = z.lines.length;
      process.kill(first, 'SIGKILL');
      const exit = await z.until(`${name} crash`, (l) => l.process === name && String(l.msg).includes('exited unexpectedly'), mark);
      expect(exit).toMatchObject({ signal: 'SIGKILL', restartInMs: 500 });
      const again = (await z.until(`${name} restart`, childStarted(name), mark)).childPid as number;
      expect(again).not.toBe(first);
      expect(isAlive(again)).toBe(true);
      if (name === 'web') await healthy(z.port);
      else await z.until('the pipeline again', (l) => l.msg === 'pipeline started', mark);
    }
    await healthy(z.port);

    const pg = postgresPid(dataDir);
    expect(isAlive(pg)).toBe(true);
    z.process.kill('SIGTERM');
    expect(await z.exited).toBe(0);
    expect(isAlive(pg)).toBe(false);
    expect(await fetch(`http://127.0.0.1:${z.port}/healthz`).then(() => 'answered', () => 'refused')).toBe('refused');

    // The same DATA_DIR starts again: nothing was left holding it.
    const next = await startZmarty(dataDir);
    await next.until('the web server', (l) => String(l.msg).startsWith('Zmarty is running at'), 0, 120_000);
    await healthy(next.port);
    next.process.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  });

  it('gives up on a child that keeps crashing: stops the other and the database, exits non-zero', { timeout: 180_000 }, async () => {
    const dataDir = await tempDataDir();
    // The worker refuses this config at once, every time.
    const z = await startZmarty(dataDir, { MARKET_DATA: 'cryptometer', SUPERVISOR_MAX_CRASHES: '3' });
    const code = await z.exited;
    expect(code).toBe(1);
    const giveUp = z.lines.filter((l) => String(l.msg).includes('giving up'));
    expect(giveUp).toHaveLength(1);
    expect(giveUp[0]).toMatchObject({ process: 'worker', crashes: 3 });
    expect(z.lines.filter(childStarted('worker'))).toHaveLength(3);
    expect(z.lines.some((l) => l.msg === 'Zmarty stopped')).toBe(true);
    // Postgres removes its lock file when it shuts down cleanly.
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });
});
