/**
 * Benchmark helpers that run in a child process (load generators, mock
 * providers) so their CPU work does not land on the measured server's event
 * loop. The parent forks a TypeScript file with `--import tsx` and calls named
 * handlers over the IPC channel; every call has a timeout.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

type Handlers = Record<string, (payload: any) => unknown>;

interface Request {
  seq: number;
  cmd: string;
  payload: unknown;
}
type Response = { seq: number; ok: true; result: unknown } | { seq: number; ok: false; error: string };

export interface ChildRpc {
  readonly pid: number;
  call<T = unknown>(cmd: string, payload?: unknown, timeoutMs?: number): Promise<T>;
  /** Asks the child to exit (its `close` handler runs first), then kills it if it lingers. */
  stop(timeoutMs?: number): Promise<void>;
}

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/** Forks `file` (a .ts path relative to the repo root) under tsx; resolves once the child says it is ready. */
export async function forkChild(file: string, options: { execArgv?: string[]; readyTimeoutMs?: number } = {}): Promise<ChildRpc> {
  const child: ChildProcess = fork(path.join(REPO_ROOT, file), [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx', ...(options.execArgv ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('exit', (code, signal) => {
    exited = true;
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`${file} exited (code ${code}, signal ${signal}) during a call`));
    }
    pending.clear();
  });
  child.on('message', (raw) => {
    const msg = raw as Response;
    const p = pending.get(msg.seq);
    if (!p) return;
    pending.delete(msg.seq);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(`${file}: ${msg.error}`));
  });

  const rpc: ChildRpc = {
    pid: child.pid ?? -1,
    call<T>(cmd: string, payload?: unknown, timeoutMs = 60_000) {
      if (exited) return Promise.reject(new Error(`${file} is not running`));
      const id = ++seq;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${file}: '${cmd}' timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
        child.send({ seq: id, cmd, payload } satisfies Request);
      });
    },
    async stop(timeoutMs = 10_000) {
      if (exited) return;
      await rpc.call('close', undefined, timeoutMs).catch(() => undefined);
      const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      if (child.connected) child.disconnect();
      await exitedPromise;
      clearTimeout(killer);
    },
  };
  await rpc.call('ready', undefined, options.readyTimeoutMs ?? 60_000);
  return rpc;
}

/**
 * The child's side: answers calls with `handlers`. `ready` and `close` are
 * built in (`close` runs `handlers.close` if given). The child exits when the
 * parent goes away, so a crashed benchmark leaves no orphan load generators.
 */
export function serveChild(handlers: Handlers): void {
  if (!process.send) throw new Error('this file runs as a child process of a benchmark (bench/chat.ts), not on its own');
  const reply = (msg: Response) => process.send?.(msg);
  process.on('message', async (raw) => {
    const { seq, cmd, payload } = raw as Request;
    try {
      if (cmd === 'ready') return reply({ seq, ok: true, result: { pid: process.pid } });
      const handler = handlers[cmd];
      if (!handler && cmd !== 'close') throw new Error(`unknown command ${cmd}`);
      const result = handler ? await handler(payload) : undefined;
      reply({ seq, ok: true, result: result ?? null });
    } catch (err) {
      reply({ seq, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  // Ctrl-C reaches the whole process group: the parent decides when its children stop (it may still need them to clean up).
  process.on('SIGINT', () => undefined);
}
