import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WORKER_NODE_FLAGS } from '../common/node-flags';

const SERVER_MAIN = path.resolve(import.meta.dirname, '../server/main.ts');
const PIPELINE_MAIN = path.resolve(import.meta.dirname, '../pipeline/main.ts');
// tsx's loader by absolute URL: the process runs in a directory of its own. (Vitest's import.meta.resolve
// does not give Node's answer here, so resolve as Node's CommonJS loader would.)
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface WebProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process printed so far (pino JSON lines). */
  output(): string;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The real `web` process (server/main.ts, as the Procfile runs it) with
 * exactly the environment given — never the developer's own keys or `.env`
 * (it runs in a temporary directory of its own, with the `.env` given, if any).
 * Resolves once it listens.
 */
export async function startWebProcess(env: Record<string, string>, options: { dotenv?: string } = {}): Promise<WebProcess> {
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'zmarty-web-'));
  if (options.dotenv !== undefined) await writeFile(path.join(cwd, '.env'), options.dotenv);
  const child = spawn(process.execPath, ['--import', TSX_LOADER, SERVER_MAIN], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', DATA_DIR: cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Never leave a half-started server behind a failed test.
      child.kill('SIGKILL');
      reject(new Error(`web process did not start:\n${out}`));
    }, 150_000);
    const check = () => {
      const match = /"port":(\d+)[^\n]*Zmarty is running/.exec(out);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', check);
    void exited.then(() => reject(new Error(`web process exited before listening:\n${out}`)));
  });
  return { child, url: `http://127.0.0.1:${port}`, output: () => out, exited };
}

/**
 * The real `worker` process (pipeline/main.ts, as the Procfile runs it) with
 * exactly the environment given, in a directory of its own. Resolves once its
 * queues and workers run.
 */
export async function startWorkerProcess(env: Record<string, string>): Promise<Omit<WebProcess, 'url'>> {
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'zmarty-worker-'));
  const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, '--import', TSX_LOADER, PIPELINE_MAIN], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, LOG_LEVEL: 'info', DATA_DIR: cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`worker process did not start:\n${out}`));
    }, 150_000);
    const check = () => {
      if (!out.includes('pipeline started')) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve();
    };
    child.stdout!.on('data', check);
    void exited.then(() => reject(new Error(`worker process exited before starting:\n${out}`)));
  });
  return { child, output: () => out, exited };
}
