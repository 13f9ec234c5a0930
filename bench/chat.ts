/**
 * Chat streaming benchmark: N concurrent socket clients (default N = 1, 100,
 * 500) against the real server, with a loopback OpenAI-wire mock as xAI Grok
 * (first token after 50 ms, then one token per 5 ms, 100 tokens).
 *
 *   npx tsx bench/chat.ts [--n=1,100,500] [--quick] [--seconds=10] [--warmup=2]
 *                         [--first-token-ms=50] [--token-ms=5] [--memory-sockets=2000]
 *
 * --quick: N = 1, 100 and 4 s phases. Diagnostics: BENCH_DB_TIMING=1 prints
 * the server's database time per call; BENCH_CPU_PROFILE=/path/prefix writes
 * a CPU profile of the server during each Zmarty phase. DATABASE_POOL_MAX is
 * honoured; CHAT_/TRADING_DATABASE_URL select the database servers.
 *
 * Processes: this one runs the server (and the embedded PostgreSQL, which is
 * its own processes); the mock and the socket clients run in two child
 * processes, so their CPU work is not done on the server's event loop. All of
 * it still shares the machine's cores — `uptime` is printed to show the load.
 *
 * Method:
 * 0. Memory per idle connected socket, first, on the fresh server (RSS does
 *    not shrink back after load): RSS, heap and external memory after a
 *    forced GC. V8 keeps pages freed during startup resident for reuse, so
 *    the first M/4 sockets (M = --memory-sockets, default 8000) absorb that
 *    slack and the figure is the marginal cost of the next 3M/4.
 * Then per N, on fresh sockets (heap per socket again at each N):
 * 1. Warm-up window, discarded, in each phase.
 * 2. Baseline: N clients call the mock directly with the OpenAI SDK, sending
 *    the exact body the server sends; TTFT = create() → first content delta.
 * 3. Through Zmarty: N clients emit `chat:send` over their websocket;
 *    TTFT = emit → first `chat:token`. Same closed-loop, staggered load.
 * Added TTFT is the difference of the two distributions' percentiles (p50 −
 * p50, p99 − p99): a request can only be timed one way, so the pairs are not
 * matched, but the mock's own latency distribution is the same in both runs,
 * so what remains is what the server adds (auth'd socket hop, validation,
 * rate limits, watchlist and market context, credit reservation, the
 * upstream call's setup, relaying tokens).
 */
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { forkChild, type ChildRpc } from './lib/child';
import type { PhaseRaw, PhaseSpec } from './lib/chat-clients.process';
import { printReport, toPhaseResult, type NResult, type SocketMemory } from './lib/chat-report';
import { startChatBench, type ChatBench } from './lib/chat-setup';
import { startCpuProfile } from './lib/cpu-profile';
import { timeDb } from './lib/db-timing';
import { obtainGc, settledMemory } from './lib/memory';
import { fmt } from './lib/stats';

const REPLY_TOKENS = 100;
const MESSAGE = 'What is the latest signal on BTC/USDT?';

function parseArgs(argv: string[]) {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const quick = argv.includes('--quick');
  const ns = (get('n') ?? (quick ? '1,100' : '1,100,500')).split(',').map(Number);
  if (ns.some((n) => !Number.isInteger(n) || n < 1 || n > 5000)) throw new Error('--n takes a comma-separated list of integers 1..5000');
  const seconds = Number(get('seconds') ?? (quick ? 4 : 10));
  const warmup = Number(get('warmup') ?? (quick ? 1.5 : 2));
  const firstTokenMs = Number(get('first-token-ms') ?? 50);
  const tokenMs = Number(get('token-ms') ?? 5);
  if (!(seconds > 0 && warmup >= 0)) throw new Error('--seconds must be > 0 and --warmup ≥ 0');
  if (!(firstTokenMs >= 0 && tokenMs >= 0)) throw new Error('--first-token-ms and --token-ms must be ≥ 0');
  const memorySockets = Number(get('memory-sockets') ?? 8000);
  if (!Number.isInteger(memorySockets) || memorySockets < 100) throw new Error('--memory-sockets must be an integer ≥ 100');
  return { ns, measureMs: seconds * 1000, warmupMs: warmup * 1000, firstTokenMs, tokenMs, memorySockets };
}

/** 100 word-sized tokens, as the mock splits them. */
function replyText(): string {
  const words = 'BTC holds above the weekly pivot while funding stays neutral and open interest grows slowly so the trend signal remains long with moderate risk'.split(' ');
  return Array.from({ length: REPLY_TOKENS }, (_, i) => words[i % words.length]).join(' ') + '.';
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const log = (m: string) => console.log(`[chat-bench] ${m}`);
  const gc = obtainGc();
  const loadBefore = os.loadavg()[0]!;
  log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; uptime load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  log(
    `N = ${args.ns.join(', ')}; warm-up ${args.warmupMs / 1000} s + ${args.measureMs / 1000} s measured per phase; ` +
      `mock first token ${args.firstTokenMs} ms, 1 token / ${args.tokenMs} ms${gc ? '' : '; NO forced GC available (memory figures include garbage)'}`,
  );

  const cycleMs = args.firstTokenMs + (REPLY_TOKENS - 1) * args.tokenMs;
  const requestTimeoutMs = 60_000;
  const phaseTimeout = args.warmupMs + args.measureMs + requestTimeoutMs + 30_000;
  const maxN = Math.max(...args.ns);
  let mock: ChildRpc | undefined;
  let clients: ChildRpc | undefined;
  let bench: ChatBench | undefined;
  const results: NResult[] = [];
  let memory: SocketMemory | undefined;
  let cleaning: Promise<void> | undefined;
  // Once only: an interrupt and the failing phase it causes may both get here.
  const cleanup = () =>
    (cleaning ??= (async () => {
      await clients?.stop().catch(() => undefined);
      await bench?.close();
      await mock?.stop().catch(() => undefined);
    })());
  // Interrupted (Ctrl-C, or bench/run.ts's timeout): still stop PostgreSQL and remove the temp dirs.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (cleaning) return;
      log(`${signal}: cleaning up`);
      setTimeout(() => process.exit(130), 20_000).unref();
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    mock = await forkChild('bench/lib/mock-llm.process.ts');
    const { url: mockUrl } = await mock.call<{ url: string }>('start', {
      reply: { text: replyText(), firstTokenDelayMs: args.firstTokenMs, tokenDelayMs: args.tokenMs },
    });
    // A few users first: the memory step runs before the sign-up of the rest leaves garbage behind.
    bench = await startChatBench({ users: 20, maxUsers: Math.max(maxN, 20), mockUrl, log });
    const { server, users } = bench;
    // Optional diagnostics: where the server's database time goes.
    const dbTiming = process.env.BENCH_DB_TIMING === '1' ? timeDb({ chat: server.chatDb, trading: server.tradingDb }) : undefined;
    clients = await forkChild('bench/lib/chat-clients.process.ts');
    const rpc = clients;
    // Socket i belongs to user i mod users (only the memory step opens more sockets than there are users).
    const connect = (n: number) =>
      rpc.call<{ connected: number; ms: number }>('connect', { url: server.url, tokens: Array.from({ length: n }, (_, i) => users[i % users.length]!.accessToken) }, 180_000);
    const disconnect = async () => {
      await rpc.call('disconnect');
      // The server notices closes asynchronously; measure only once it has let go of them.
      for (let i = 0; i < 200 && server.io.engine.clientsCount > 0; i++) await new Promise((r) => setTimeout(r, 50));
    };
    const phase = (cmd: 'zmarty' | 'baseline', spec: PhaseSpec & { mockUrl?: string; body?: Record<string, unknown> }) =>
      rpc.call<PhaseRaw>(cmd, { ...spec, requestTimeoutMs }, phaseTimeout);
    /** Connects N idle sockets; returns the server heap they hold, per socket. */
    const connectMeasured = async (n: number) => {
      const before = await settledMemory(gc);
      const connected = await connect(n);
      const after = await settledMemory(gc);
      return { connected, heapPerSocketKB: (after.heapUsed - before.heapUsed) / 1024 / n };
    };

    // Memory first, on a server that has not been under load yet. V8 keeps pages it freed (startup is
    // garbage-heavy) resident for reuse, so the first sockets hardly move RSS: a quarter of them absorb
    // that slack, and the figure is the marginal cost of the other three quarters.
    await connect(5);
    await disconnect();
    const m0 = await settledMemory(gc);
    const first = Math.floor(args.memorySockets / 4);
    await connect(first);
    const m1 = await settledMemory(gc);
    const rest = await connect(args.memorySockets - first);
    const m2 = await settledMemory(gc);
    const per = (key: 'rss' | 'heapUsed' | 'external') => (m2[key] - m1[key]) / 1024 / (args.memorySockets - first);
    memory = {
      n: args.memorySockets - first,
      rssPerSocketKB: per('rss'),
      heapPerSocketKB: per('heapUsed'),
      externalPerSocketKB: per('external'),
      naiveRssPerSocketKB: (m2.rss - m0.rss) / 1024 / args.memorySockets,
      forcedGc: Boolean(gc),
    };
    log(`memory: ${rest.connected} idle sockets; marginal RSS ${fmt(memory.rssPerSocketKB, 1)} KB, heap ${fmt(memory.heapPerSocketKB, 1)} KB per socket`);
    await disconnect();
    await bench.addUsers(maxN - users.length);

    // Warm-up (JIT, pools, connections), discarded; it also yields the body the server sends upstream.
    log('warming up');
    await connect(20);
    const warm: PhaseSpec = { n: 20, warmupMs: 0, measureMs: 2000, cycleMs, message: MESSAGE };
    await phase('zmarty', warm);
    const body = await mock.call<Record<string, unknown>>('lastRequestBody');
    await phase('baseline', { ...warm, mockUrl, body });
    await disconnect();
    await mock.call('reset');

    for (const n of args.ns) {
      const sockets = await connectMeasured(n);
      log(`N=${n}: ${sockets.connected.connected} sockets connected in ${Math.round(sockets.connected.ms)} ms; load ${os.loadavg()[0]!.toFixed(2)}`);
      const spec: PhaseSpec = { n, warmupMs: args.warmupMs, measureMs: args.measureMs, cycleMs, message: MESSAGE };
      const baseline = toPhaseResult(await phase('baseline', { ...spec, mockUrl, body }));
      await mock.call('reset');

      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      dbTiming?.reset();
      const profiler = process.env.BENCH_CPU_PROFILE ? await startCpuProfile() : undefined;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const through = toPhaseResult(await phase('zmarty', spec));
      const cpu = process.cpuUsage(cpu0);
      const serverCpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
      loop.disable();
      if (profiler) {
        const file = `${process.env.BENCH_CPU_PROFILE}-n${n}.cpuprofile`;
        await profiler.stop(file);
        log(`N=${n}: server CPU profile of the Zmarty phase written to ${file}`);
      }
      await mock.call('reset');
      await disconnect();

      results.push({
        n,
        baseline,
        zmarty: through,
        addedP50Ms: through.ttft.p50 - baseline.ttft.p50,
        addedP99Ms: through.ttft.p99 - baseline.ttft.p99,
        heapPerSocketKB: sockets.heapPerSocketKB,
        serverCpuPct,
        serverLoopDelayP99Ms: loop.percentile(99) / 1e6,
        db: dbTiming?.report(),
      });
      log(`N=${n}: added TTFT p50 ${fmt(through.ttft.p50 - baseline.ttft.p50)} ms, p99 ${fmt(through.ttft.p99 - baseline.ttft.p99)} ms`);
    }
  } finally {
    await cleanup();
  }
  printReport(results, memory, { firstTokenMs: args.firstTokenMs, tokenMs: args.tokenMs, replyTokens: REPLY_TOKENS, loadBefore });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('[chat-bench] failed:', err);
    process.exit(1);
  },
);
