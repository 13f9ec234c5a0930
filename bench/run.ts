/**
 * `npm run bench [-- <name>...] [--flags]`: runs the benchmark scripts one
 * after another, each in its own Node process (`--import tsx`), so one
 * benchmark's leftovers (pools, timers, heap) cannot skew the next.
 *
 *   npm run bench                 every bench/<name>.ts that exists (chat, pipeline, push, push-write, idle-sockets)
 *   npm run bench -- chat         only bench/chat.ts
 *   npm run bench -- soak         bench/soak.ts (and `adapter`): only when named
 *   npm run bench -- --quick      flags (anything starting with -) pass through to each script
 *
 * Output is streamed as it comes; the `BENCH_RESULT {...}` lines are
 * repeated at the end. Exits non-zero if any benchmark fails or times out
 * (BENCH_RUN_TIMEOUT_MINUTES per script, default 30).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { WORKER_NODE_FLAGS } from '../common/node-flags';

const ROOT = path.resolve(import.meta.dirname, '..');
const KNOWN = ['chat', 'pipeline', 'push', 'push-write', 'idle-sockets'] as const;
// Run only when named (`npm run bench -- soak`): the soak takes 10 minutes by default.
const ON_REQUEST = ['adapter', 'soak'] as const;

interface Outcome {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
  timedOut: boolean;
  results: string[];
}

function runOne(name: string, flags: string[], timeoutMs: number): Promise<Outcome> {
  const started = performance.now();
  // The pipeline bench hosts a worker in its own process: it runs with the worker's flags, as the product's does.
  const nodeFlags = name === 'pipeline' ? WORKER_NODE_FLAGS : [];
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path.join('bench', `${name}.ts`), ...flags], {
    cwd: ROOT,
    stdio: ['inherit', 'pipe', 'inherit'],
    env: process.env,
  });
  const results: string[] = [];
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('BENCH_RESULT ')) results.push(line);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    console.error(`[bench] ${name} exceeded ${timeoutMs / 60_000} min; stopping it`);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  }, timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (pending.startsWith('BENCH_RESULT ')) results.push(pending);
      resolve({ name, code, signal, seconds: (performance.now() - started) / 1000, timedOut, results });
    });
  });
}

async function main() {
  const args = process.argv.slice(2);
  const flags = args.filter((a) => a.startsWith('-'));
  const names = args.filter((a) => !a.startsWith('-'));
  const available = KNOWN.filter((n) => existsSync(path.join(ROOT, 'bench', `${n}.ts`)));
  const unknown = names.filter((n) => !([...available, ...ON_REQUEST] as readonly string[]).includes(n));
  if (unknown.length > 0) {
    console.error(`[bench] unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ') || 'none'}`);
    process.exit(2);
  }
  const selected = names.length > 0 ? names : available;
  const timeoutMs = Number(process.env.BENCH_RUN_TIMEOUT_MINUTES ?? 30) * 60_000;

  const outcomes: Outcome[] = [];
  for (const name of selected) {
    console.log(`\n[bench] ===== ${name} ${flags.join(' ')} =====`);
    outcomes.push(await runOne(name, flags, timeoutMs));
  }

  console.log('\n[bench] ===== summary =====');
  for (const o of outcomes) {
    const status = o.code === 0 ? 'ok' : o.timedOut ? 'TIMED OUT' : `FAILED (${o.signal ?? `exit ${o.code}`})`;
    console.log(`[bench] ${o.name.padEnd(9)} ${status.padEnd(18)} ${o.seconds.toFixed(0)} s`);
  }
  for (const line of outcomes.flatMap((o) => o.results)) console.log(line);
  process.exit(outcomes.every((o) => o.code === 0) ? 0 : 1);
}

void main();
