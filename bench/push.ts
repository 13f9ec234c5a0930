/**
 * Push latency: a signal committed in the trading database → `signal:new`
 * received by every subscribed socket.io-client socket, the sockets spread
 * over two server processes that each LISTEN (bench/push-server.ts).
 * Loopback only.
 *
 *   npx tsx bench/push.ts
 *
 * Settings (env): BENCH_SOCKETS (1000), BENCH_SIGNALS (100), BENCH_INTERVAL_MS
 * (50 ms between signals), BENCH_CLIENT_PROCESSES (2; the sockets are split
 * over this many client processes, see bench/push-clients.ts). Uses
 * TRADING_DATABASE_URL + CHAT_DATABASE_URL when set, else a throw-away
 * embedded PostgreSQL. BENCH_CPU_PROFILE=<dir>: the servers and client processes
 * write V8 CPU profiles (.cpuprofile, open in Chrome DevTools) there.
 * BENCH_PUSH_CLIENT=raw (diagnostic, not the method): the client processes read
 * the same frames with Node's built-in WebSocket and one JSON.parse per frame
 * instead of socket.io-client, to show how much of the latency is the
 * clients' own per-frame work.
 *
 * Latency runs from just before the INSERT is sent (so it includes the
 * commit) to the client's `signal:new` callback, both on the host's wall
 * clock at sub-millisecond resolution. Every process of the run (database,
 * servers, clients) shares the same cores, so the tail includes the clients'
 * own work of reading 1,000 frames per signal.
 *
 * The baseline, measured first in the same run: the floor. The same client
 * processes and sockets, but the two servers are bench/push-floor-server.ts,
 * which get each signal over IPC and write one prebuilt frame to each socket
 * (no database, no NOTIFY, no rooms): the least any server could do on these
 * cores. Its latency runs from just before the IPC send. What Zmarty adds is
 * the difference of the percentiles.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { ChildMessage, ClientGroupSpec } from './push-clients';
import { benchSignalRow } from './lib/signal-row';
import { openBenchDatabases, percentile } from './pipeline-databases';

const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 1000);
const SIGNALS = Number(process.env.BENCH_SIGNALS ?? 100);
const INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? 50);
const CLIENT_PROCESSES = Number(process.env.BENCH_CLIENT_PROCESSES ?? 2);
const SERVERS = 2;
const USERS = 20;
const WARMUP = 5;
const SYMBOL = 'PUSHB/USDT';
const wallNow = () => performance.timeOrigin + performance.now();

const CPU_PROF = process.env.BENCH_CPU_PROFILE;
const profileArgs = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [];

/**
 * Per server: candle time → [broadcast start, broadcast end] (wall clock), and the server's cumulative CPU ms
 * at that end; printed by the server at exit.
 */
type ServerTiming = [start: number, end: number, cpuMs: number];

interface BenchServer {
  child: ChildProcess;
  port: number;
  /** Resolves at exit. */
  timings: Promise<Map<string, ServerTiming>>;
  /** Sockets written the direct way (one shared frame) vs through socket.emit, over the whole phase. */
  writes: Promise<string | undefined>;
}

async function startServer(script: 'push-server.ts' | 'push-floor-server.ts', env: NodeJS.ProcessEnv): Promise<BenchServer> {
  const child = spawn(process.execPath, [...profileArgs, '--import', 'tsx', path.join(import.meta.dirname, script)], {
    env,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('push server did not start in 60 s')), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`push server exited with ${code}`)));
  });
  let all = '';
  child.stdout!.on('data', (d: Buffer) => (all += d.toString()));
  const exited = new Promise<string[]>((resolve) => child.once('exit', () => resolve(all.split('\n'))));
  return {
    child,
    port,
    timings: exited.then((lines) => {
      const line = lines.find((l) => l.startsWith('TIMING '));
      const rows = line ? (JSON.parse(line.slice('TIMING '.length)) as Array<[string, number, number, number]>) : [];
      return new Map(rows.map(([t, start, end, cpu]) => [t, [start, end, cpu]]));
    }),
    writes: exited.then((lines) => lines.find((l) => l.startsWith('WRITES '))?.slice('WRITES '.length)),
  };
}

interface ClientGroup {
  child: ChildProcess;
  received: number;
  ready: Promise<void>;
  report(): Promise<Extract<ChildMessage, { type: 'report' }>>;
}

function startClients(spec: ClientGroupSpec): ClientGroup {
  const child = fork(path.join(import.meta.dirname, 'push-clients.ts'), [], {
    execArgv: [...profileArgs, '--import', 'tsx'],
    env: { ...process.env, PUSH_CLIENTS_SPEC: JSON.stringify(spec) },
  });
  const group: ClientGroup = {
    child,
    received: 0,
    ready: new Promise((resolve, reject) => {
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'progress') group.received = m.received;
        else if (m.type === 'error') reject(new Error(`client group: ${m.message}`));
      });
      child.once('exit', (code) => reject(new Error(`client group exited with ${code}`)));
    }),
    report: () =>
      new Promise((resolve) => {
        child.on('message', (m: ChildMessage) => m.type === 'report' && resolve(m));
        child.send({ type: 'report' });
      }),
  };
  return group;
}

/**
 * Where the time goes: commit → the server starts its broadcast (INSERT, commit, NOTIFY, parsing),
 * the broadcast itself (writing every socket's frame), and broadcast end → the client's callback
 * (kernel, and the client process reading its sockets' frames one after another).
 */
/** CPU ms one process spent per signal: its cumulative CPU from the first measured signal to the last, per interval. */
function cpuPerSignal(sentAt: Map<string, number>, samples: Iterable<[string, number]>): number {
  const measured = [...samples].filter(([t]) => sentAt.has(t)).sort((a, b) => sentAt.get(a[0])! - sentAt.get(b[0])!);
  if (measured.length < 2) return Number.NaN;
  return (measured.at(-1)![1] - measured[0]![1]) / (measured.length - 1);
}

type Report = { receipts: Array<[string, number]>; cpu: Array<[string, number]> };

function printBreakdown(sentAt: Map<string, number>, reports: Report[], servers: Array<Map<string, ServerTiming>>, writes: string[]) {
  const toStart: number[] = [];
  const during: number[] = [];
  for (const timings of servers) {
    for (const [t, [start, end]] of timings) {
      const t0 = sentAt.get(t);
      if (t0 === undefined) continue;
      toStart.push(start - t0);
      during.push(end - start);
    }
  }
  const afterEnd: number[] = [];
  for (const r of reports) {
    for (const [t, at] of r.receipts) {
      if (!sentAt.has(t)) continue;
      // Which server sent it is not recorded per receipt: measure from the later of the two ends.
      const ends = servers.map((s) => s.get(t)?.[1]).filter((e): e is number => e !== undefined);
      if (ends.length) afterEnd.push(at - Math.max(...ends));
    }
  }
  const f = (xs: number[]) => {
    xs.sort((a, b) => a - b);
    return `p50 ${percentile(xs, 50).toFixed(1)} / p99 ${percentile(xs, 99).toFixed(1)} ms`;
  };
  if (!toStart.length) return;
  console.log(`  signal sent → server broadcast starts: ${f(toStart)}`);
  console.log(`  broadcast to its sockets (per server): ${f(during)}`);
  console.log(`  last server's broadcast end → client callback: ${f(afterEnd)}`);
  // Load-independent: what each process burns per signal (the cores are shared by all of them and the database).
  const serverCpu = servers.map((s) => cpuPerSignal(sentAt, [...s].map(([t, [, , cpu]]) => [t, cpu] as [string, number])));
  const clientCpu = reports.map((r) => cpuPerSignal(sentAt, r.cpu));
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' + ');
  console.log(`  CPU per signal: servers ${list(serverCpu)} ms, client processes ${list(clientCpu)} ms`);
  // The clients' own queue: a client process reads its ~500 frames of one signal one after another.
  const spreads: number[] = [];
  for (const r of reports) {
    const span = new Map<string, [number, number]>();
    for (const [t, at] of r.receipts) {
      if (!sentAt.has(t)) continue;
      const x = span.get(t);
      if (!x) span.set(t, [at, at]);
      else if (at < x[0]) x[0] = at;
      else if (at > x[1]) x[1] = at;
    }
    for (const [first, last] of span.values()) spreads.push(last - first);
  }
  if (spreads.length) console.log(`  one client process, a signal's first → last receipt: ${f(spreads)}`);
  if (writes.length) console.log(`  socket writes per server (whole phase): ${writes.join(', ')}`);
}

interface PhaseResult {
  latencies: number[];
  duplicates: number;
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
const summary = (xs: readonly number[]) =>
  `p50 ${ms(percentile(xs, 50))}  p95 ${ms(percentile(xs, 95))}  p99 ${ms(percentile(xs, 99))}  max ${ms(xs.at(-1) ?? Number.NaN)}`;

/**
 * One phase: two servers of `kind`, the client processes subscribed to them, WARMUP signals then SIGNALS
 * every INTERVAL_MS, each sent by `send` (which records its wall time when `record`), and every receipt.
 */
async function runPhase(
  kind: 'floor' | 'zmarty',
  env: NodeJS.ProcessEnv,
  userIds: string[],
  send: (candleTime: string, servers: BenchServer[]) => Promise<void>,
): Promise<PhaseResult> {
  const servers: BenchServer[] = [];
  const children: ChildProcess[] = [];
  const sentAt = new Map<string, number>();
  let reports: Array<Extract<ChildMessage, { type: 'report' }>> = [];
  let result: PhaseResult;
  try {
    for (let i = 0; i < SERVERS; i++) {
      const server = await startServer(kind === 'floor' ? 'push-floor-server.ts' : 'push-server.ts', env);
      servers.push(server);
      children.push(server.child);
    }
    const ports = servers.map((s) => s.port);
    const groups: ClientGroup[] = [];
    const per = Math.ceil(SOCKETS / CLIENT_PROCESSES);
    for (let offset = 0; offset < SOCKETS; offset += per) {
      const group = startClients({ ports, userIds, symbol: SYMBOL, count: Math.min(per, SOCKETS - offset), offset });
      children.push(group.child);
      groups.push(group);
    }
    await Promise.all(groups.map((g) => g.ready));

    // Signals of distinct candle times (a year ahead, so never a real one); candle time → wall time just before it was sent.
    let candle = Math.floor(Date.now() / 60_000) * 60_000 + 3_600_000 * 24 * 365 + (kind === 'floor' ? 0 : 3_600_000 * 24 * 30);
    const fire = async (record: boolean) => {
      candle += 60_000;
      const candleTime = new Date(candle).toISOString();
      if (record) sentAt.set(candleTime, wallNow());
      await send(candleTime, servers);
    };
    // Warm-up: LISTEN paths, JIT.
    for (let i = 0; i < WARMUP; i++) await fire(false);
    await new Promise((r) => setTimeout(r, 500));

    const started = performance.now();
    for (let i = 0; i < SIGNALS; i++) {
      await fire(true);
      const wait = started + (i + 1) * INTERVAL_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    const expected = (SIGNALS + WARMUP) * SOCKETS;
    const deadline = performance.now() + 15_000;
    while (groups.reduce((n, g) => n + g.received, 0) < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));

    reports = await Promise.all(groups.map((g) => g.report()));
    const latencies: number[] = [];
    let duplicates = 0;
    for (const r of reports) {
      duplicates += r.duplicates;
      for (const [candleTime, at] of r.receipts) {
        const t0 = sentAt.get(candleTime);
        if (t0 !== undefined) latencies.push(at - t0);
      }
    }
    latencies.sort((a, b) => a - b);
    result = { latencies, duplicates };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  }
  const label = kind === 'floor' ? 'floor  (IPC → one prebuilt frame per socket)' : 'zmarty (commit → signal:new)';
  console.log(`${label}: delivered ${result.latencies.length}/${SIGNALS * SOCKETS}, duplicates ${result.duplicates}`);
  console.log(`  ${summary(result.latencies)}`);
  const writes = (await Promise.all(servers.map((s) => s.writes))).filter((w): w is string => w !== undefined);
  printBreakdown(sentAt, reports, await Promise.all(servers.map((s) => s.timings)), writes);
  return result;
}

async function main() {
  const dbs = await openBenchDatabases();
  const chat = new pg.Pool({ connectionString: dbs.chatUrl, max: 2 });
  const trading = new pg.Pool({ connectionString: dbs.tradingUrl, max: 2 });
  // pool.end() resolves before its clients have closed; stopping the embedded server then errors them.
  for (const pool of [chat, trading]) pool.on('error', () => undefined);
  const userIds: string[] = [];
  try {
    for (let i = 0; i < USERS; i++) {
      const { rows } = await chat.query<{ id: string }>('insert into auth.users (email) values ($1) returning id', [
        `push-bench-${process.pid}-${i}@example.com`,
      ]);
      userIds.push(rows[0]!.id);
      await chat.query('insert into public.user_symbols (user_id, symbol, timeframe) values ($1, $2, $3)', [rows[0]!.id, SYMBOL, '1m']);
    }
    const env = { ...process.env, TRADING_DATABASE_URL: dbs.tradingUrl, CHAT_DATABASE_URL: dbs.chatUrl };
    console.log(
      `push bench: ${SOCKETS} sockets over ${SERVERS} server processes (${CLIENT_PROCESSES} client processes), ` +
        `${SIGNALS} signals every ${INTERVAL_MS} ms, ${process.env.BENCH_PUSH_CLIENT === 'raw' ? 'RAW WebSocket clients (diagnostic), ' : ''}${os.cpus().length} CPUs, ${dbs.embedded ? 'embedded' : 'given'} PostgreSQL, ` +
        `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    );

    let floorId = 0;
    const floor = await runPhase('floor', env, userIds, async (candleTime, servers) => {
      const row = benchSignalRow({ id: ++floorId, symbol: SYMBOL, candleTime });
      for (const s of servers) s.child.send({ type: 'signal', row });
    });
    const zmarty = await runPhase('zmarty', env, userIds, async (candleTime) => {
      // The floor's row, stored: the server pushes the same columns.
      const row = benchSignalRow({ id: 0, symbol: SYMBOL, candleTime });
      await trading.query(
        `insert into public.signals (symbol, timeframe, candle_time, direction, score, entry, stop, take_profit, reasons)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [row.symbol, row.timeframe, row.candleTime, row.direction, row.score, row.entry, row.stop, row.takeProfit, JSON.stringify(row.reasons)],
      );
    });

    const added = (p: number) => percentile(zmarty.latencies, p) - percentile(floor.latencies, p);
    console.log(
      `commit → signal:new  p50 ${ms(percentile(zmarty.latencies, 50))}  p95 ${ms(percentile(zmarty.latencies, 95))}  ` +
        `p99 ${ms(percentile(zmarty.latencies, 99))}; the floor p50 ${ms(percentile(floor.latencies, 50))}  ` +
        `p95 ${ms(percentile(floor.latencies, 95))}  p99 ${ms(percentile(floor.latencies, 99))}; ` +
        `added p50 ${ms(added(50))}  p95 ${ms(added(95))}  p99 ${ms(added(99))}`,
    );
    for (const phase of [floor, zmarty]) if (phase.latencies.length < SIGNALS * SOCKETS || phase.duplicates) process.exitCode = 1;
    console.log(
      `BENCH_RESULT ${JSON.stringify({
        bench: 'push',
        sockets: SOCKETS,
        signals: SIGNALS,
        p50: percentile(zmarty.latencies, 50),
        p95: percentile(zmarty.latencies, 95),
        p99: percentile(zmarty.latencies, 99),
        floorP50: percentile(floor.latencies, 50),
        floorP95: percentile(floor.latencies, 95),
        floorP99: percentile(floor.latencies, 99),
      })}`,
    );
  } finally {
    await trading.query('delete from public.signals where symbol = $1', [SYMBOL]).catch(() => undefined);
    if (userIds.length) await chat.query('delete from auth.users where id = any($1::uuid[])', [userIds]).catch(() => undefined);
    await chat.end();
    await trading.end();
    await dbs.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
