/**
 * Idle sockets: how much memory one web process holds for N authenticated,
 * idle Socket.IO connections (issue 12: 20,000 under 1 GB RSS).
 *
 *   npx tsx bench/idle-sockets.ts
 *
 * The real server (startServer with embedded auth, fresh databases) runs
 * alone in a child process; the sockets are opened by BENCH_CLIENT_PROCESSES
 * (2) other processes with socket.io-client over WebSocket, each with a real
 * access token of one of 20 signed-up users. The server's memory is read
 * after a forced GC: before any socket, with every socket connected, and
 * again after BENCH_IDLE_SECONDS (30 s: a heartbeat round) of idling.
 *
 * Settings (env): BENCH_IDLE_SOCKETS (20000), BENCH_CLIENT_PROCESSES (2),
 * BENCH_IDLE_SECONDS (30). Each socket is one descriptor in the server: the
 * script raises its soft `ulimit -n` to the hard limit (re-running itself);
 * when the hard limit is below what the run needs, it measures as many
 * sockets as fit and says so, with the per-socket figure extrapolated to N.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { forkChild, type ChildRpc } from './lib/child';
import { MB } from './lib/stats';

const TARGET = Number(process.env.BENCH_IDLE_SOCKETS ?? 20_000);
const CLIENT_PROCESSES = Number(process.env.BENCH_CLIENT_PROCESSES ?? 2);
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30);
const USERS = 20;
// Descriptors the server needs besides its sockets: database pools, LISTEN connections, files, stdio.
const SERVER_FD_HEADROOM = 500;

function openFileLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const [soft, hard] = (line?.match(/(\d+|unlimited)\s+(\d+|unlimited)/)?.slice(1) ?? []).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
  return { soft: soft ?? 1024, hard: hard ?? 1024 };
}

/** Runs this script again under `ulimit -n <hard>` when the soft limit is lower (once). */
function raiseOpenFileLimit(): void {
  const { soft, hard } = openFileLimits();
  if (soft >= hard || process.env.BENCH_ULIMIT_RAISED) return;
  const limit = Number.isFinite(hard) ? String(hard) : 'unlimited';
  const argv = [process.execPath, ...process.execArgv, ...process.argv.slice(1)].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const result = spawnSync('sh', ['-c', `ulimit -n ${limit} && exec ${argv}`], { stdio: 'inherit', env: { ...process.env, BENCH_ULIMIT_RAISED: '1' } });
  process.exit(result.status ?? 1);
}

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  sockets: number;
}

async function main() {
  raiseOpenFileLimit();
  const { hard } = openFileLimits();
  const fits = Math.max(0, Math.floor(hard - SERVER_FD_HEADROOM));
  const count = Math.min(TARGET, fits);
  const children: ChildRpc[] = [];
  try {
    const server = await forkChild('bench/lib/idle-server.process.ts', { execArgv: ['--expose-gc'], readyTimeoutMs: 120_000 });
    children.push(server);
    const { url, tokens, gc } = await server.call<{ url: string; tokens: string[]; gc: boolean }>('start', { users: USERS }, 600_000);
    const clients: ChildRpc[] = [];
    for (let i = 0; i < CLIENT_PROCESSES; i++) clients.push(await forkChild('bench/lib/idle-clients.process.ts'));
    children.push(...clients);

    const before = await server.call<Memory>('memory');
    const per = Math.ceil(count / CLIENT_PROCESSES);
    const started = performance.now();
    const opened = await Promise.all(
      clients.map((c, i) =>
        c.call<{ connected: number; failed: number; firstError: string | null }>(
          'connect',
          { url, tokens, count: Math.max(0, Math.min(per, count - i * per)), offset: i * per },
          1_800_000,
        ),
      ),
    );
    const connectSeconds = (performance.now() - started) / 1000;
    const connected = opened.reduce((n, o) => n + o.connected, 0);
    const failed = opened.reduce((n, o) => n + o.failed, 0);
    const loaded = await server.call<Memory>('memory');
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idle = await server.call<Memory>('memory');
    const still = (await Promise.all(clients.map((c) => c.call<number>('stillConnected')))).reduce((a, b) => a + b, 0);

    const perSocket = connected ? (idle.rss - before.rss) / connected : Number.NaN;
    const heapPerSocket = connected ? (idle.heapUsed - before.heapUsed) / connected : Number.NaN;
    const projected = before.rss + perSocket * TARGET;
    const mb = (b: number) => `${(b / MB).toFixed(0)} MB`;
    console.log(
      `idle sockets bench: ${connected}/${count} sockets connected in ${connectSeconds.toFixed(1)} s (${failed} failed` +
        `${opened.find((o) => o.firstError)?.firstError ? `, first: ${opened.find((o) => o.firstError)!.firstError}` : ''}), ` +
        `${CLIENT_PROCESSES} client processes, ${os.cpus().length} CPUs${gc ? '' : ', no forced GC available'}`,
    );
    if (count < TARGET) console.log(`open-file hard limit ${hard}: measured ${count} sockets, not ${TARGET}; the ${TARGET} figure below is extrapolated`);
    console.log(`server RSS: no sockets ${mb(before.rss)}, all connected ${mb(loaded.rss)}, after ${IDLE_SECONDS} s idle ${mb(idle.rss)} (${still} still connected, server counts ${idle.sockets})`);
    console.log(`per socket: ${(perSocket / 1024).toFixed(1)} KB RSS, ${(heapPerSocket / 1024).toFixed(1)} KB JS heap; heap ${mb(idle.heapUsed)}, external ${mb(idle.external)}`);
    console.log(`${TARGET} idle sockets: ${count >= TARGET ? 'measured' : 'projected'} RSS ${mb(count >= TARGET ? idle.rss : projected)} (target < 1024 MB)`);
    console.log(
      `BENCH_RESULT ${JSON.stringify({
        bench: 'idle-sockets',
        sockets: connected,
        target: TARGET,
        rssMb: Math.round(idle.rss / MB),
        baseRssMb: Math.round(before.rss / MB),
        perSocketKb: Number((perSocket / 1024).toFixed(1)),
        rssAtTargetMb: Math.round((count >= TARGET ? idle.rss : projected) / MB),
      })}`,
    );
    if (failed || still < connected) process.exitCode = 1;
  } finally {
    for (const c of children.reverse()) await c.stop(60_000).catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
