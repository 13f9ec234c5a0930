/**
 * Chat benchmark, issue 12's method: N concurrent streams (N = 20 and 100),
 * each in a closed loop — ask, read the answer to its end, ask again — for
 * 20 s, against a loopback OpenAI-compatible provider (standing in for xAI
 * Grok) whose first token comes after 50 ms and then one token every 10 ms
 * (100 tokens/s a stream), in its own process. The same client process talks
 * to the provider directly in the same run: that is the baseline. The mock
 * keeps to its clock: token i is due 50 + 10 i ms after the request, and one
 * made late by a busy machine goes out at once, as a hosted model's would.
 * With each delay counted from the previous write (--pacing=relative, the
 * method before) the mock itself slowed down whenever the machine was busier,
 * as it is with the server running beside it, and that was counted against
 * the server: at N = 100 the mock wrote its answers at 92.1 tokens/s in the
 * direct phase and 87.4 in the Zmarty phase, and the stream through Zmarty
 * (87.7) followed its pace exactly.
 *
 *   npx tsx bench/chat.ts [--n=20,100] [--seconds=20] [--warmup=2]
 *                         [--first-token-ms=50] [--token-ms=10] [--pacing=clock|relative] [--no-cache-phase]
 *
 * Per N, three phases on fresh load:
 * 1. direct: the OpenAI SDK calls the mock with the very body the server sends;
 *    TTFT = create() → first content delta.
 * 2. zmarty: `chat:send` over an authenticated websocket → first `chat:token`.
 *    Every question is unique (a request number is appended), so none is
 *    answered from the answer cache: this is the provider path.
 * 3. cached (unless --no-cache-phase): the same question every time, answered
 *    from the answer cache after the first (reported apart, not compared with
 *    direct: no provider is called).
 * Added TTFT is the difference of the percentiles (zmarty p50 − direct p50, …).
 * Each phase runs `--warmup` s whose requests are not counted, then the 20 s
 * window. Reported per N: p50/p95/p99 added TTFT, tokens/s delivered against
 * direct, the server's CPU per 1,000 tokens relayed (the whole answer path:
 * limits, context, reservation, relaying, settlement — divided by the tokens),
 * its RSS, the websocket bytes and events per token, the answer path's
 * per-stage timings (published by the chat service on diagnostics_channel),
 * how many cores the whole machine was busy in each phase (/proc/stat:
 * the direct baseline near 2 cores is itself a saturated machine's), and
 * where a closed loop's tokens/s goes per answer: its mean cycle, its stream
 * rate from first to last token and the wait from the last token to its end
 * (chat:done follows the settlement).
 *
 * Diagnostics: BENCH_CPU_PROFILE=/path/prefix writes a CPU profile of the
 * server during each zmarty phase and prints its top functions;
 * BENCH_DB_TIMING=1 prints the server's database time per call;
 * BENCH_ALLOC_PROFILE=/path/prefix samples the server's allocations during
 * each zmarty phase (collected objects included) and prints the top
 * allocating functions, per token relayed;
 * BENCH_HEAP_SNAPSHOT=/path/prefix writes the server's heap snapshot after
 * each N's zmarty phase. Always printed: the server's GC pauses per phase
 * (perf_hooks) and the CPU of every postgres process per 1,000 tokens.
 * BENCH_LOG_LEVEL=warn (or info, debug) lets the server's own log lines through (silent by default).
 * DATABASE_POOL_MAX, CHAT_EARLY_PROVIDER_START and CHAT_TOKEN_EVENTS_PER_SECOND are honoured; CHAT_/TRADING_DATABASE_URL select the
 * database servers. The server runs in this process (the embedded PostgreSQL
 * in its own); the mock and the clients each in a child process. They all
 * share the machine's cores: the load average is printed.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import os from 'node:os';
import { writeHeapSnapshot } from 'node:v8';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { ANSWER_TIMINGS_CHANNEL, type AnswerTimings } from '../server/chat/answer-timings';
import { seriesValue } from '../test/prometheus-text';
import { forkChild, type ChildRpc } from './lib/child';
import type { PhaseRaw, PhaseSpec } from './lib/chat-clients.process';
import { printReport, toPhaseResult, type NResult, type ServerSide } from './lib/chat-report';
import { startChatBench, type ChatBench } from './lib/chat-setup';
import { startAllocationProfile, summarizeAllocationProfile } from './lib/alloc-profile';
import { startCpuProfile, summarizeCpuProfile } from './lib/cpu-profile';
import { timeDb } from './lib/db-timing';
import { startMachineCpu, startPostgresCpu } from './lib/machine-cpu';
import { fmt, summarize } from './lib/stats';

const REPLY_TOKENS = 100;
const MESSAGE = 'What is the latest signal on BTC/USDT?';

function parseArgs(argv: string[]) {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const ns = (get('n') ?? '20,100').split(',').map(Number);
  if (ns.some((n) => !Number.isInteger(n) || n < 1 || n > 5000)) throw new Error('--n takes a comma-separated list of integers 1..5000');
  const seconds = Number(get('seconds') ?? 20);
  const warmup = Number(get('warmup') ?? 2);
  const firstTokenMs = Number(get('first-token-ms') ?? 50);
  const tokenMs = Number(get('token-ms') ?? 10);
  if (!(seconds > 0 && warmup >= 0)) throw new Error('--seconds must be > 0 and --warmup ≥ 0');
  if (!(firstTokenMs >= 0 && tokenMs >= 0)) throw new Error('--first-token-ms and --token-ms must be ≥ 0');
  const pacing = get('pacing') ?? 'clock';
  if (pacing !== 'clock' && pacing !== 'relative') throw new Error('--pacing is clock or relative');
  return { ns, measureMs: seconds * 1000, warmupMs: warmup * 1000, firstTokenMs, tokenMs, pacing, cachePhase: !argv.includes('--no-cache-phase') };
}

/** 100 word-sized tokens, as the mock splits them. */
function replyText(): string {
  const words = 'BTC holds above the weekly pivot while funding stays neutral and open interest grows slowly so the trend signal remains long with moderate risk'.split(' ');
  return Array.from({ length: REPLY_TOKENS }, (_, i) => words[i % words.length]).join(' ') + '.';
}

/** The server process's garbage-collection pauses over a phase (perf_hooks 'gc' entries), minor and major apart. */
function watchGc() {
  const pauses = { minor: [] as number[], major: [] as number[] };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      // NODE_PERFORMANCE_GC_MINOR = 1; MAJOR (2), INCREMENTAL (4) and WEAKCB (8) all stop the main thread of a mark-compact cycle.
      (kind === constants.NODE_PERFORMANCE_GC_MINOR ? pauses.minor : pauses.major).push(entry.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      observer.disconnect();
      const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
      return {
        minor: { count: pauses.minor.length, totalMs: sum(pauses.minor), maxMs: Math.max(0, ...pauses.minor) },
        major: { count: pauses.major.length, totalMs: sum(pauses.major), maxMs: Math.max(0, ...pauses.major) },
      };
    },
  };
}

/** Stage timings of the answers the server ran while subscribed. */
function collectTimings() {
  const samples = new Map<string, number[]>();
  const onMessage = (message: unknown) => {
    for (const [stage, ms] of Object.entries((message as AnswerTimings).stages)) {
      let list = samples.get(stage);
      if (!list) samples.set(stage, (list = []));
      list.push(ms);
    }
  };
  subscribe(ANSWER_TIMINGS_CHANNEL, onMessage);
  return {
    stop: () => {
      unsubscribe(ANSWER_TIMINGS_CHANNEL, onMessage);
      return Object.fromEntries([...samples].map(([k, v]) => [k, summarize(v)]));
    },
  };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const log = (m: string) => console.log(`[chat-bench] ${m}`);
  const loadBefore = os.loadavg()[0]!;
  log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  log(`N = ${args.ns.join(', ')}; ${args.warmupMs / 1000} s warm-up + ${args.measureMs / 1000} s measured per phase; mock first token ${args.firstTokenMs} ms, 1 token / ${args.tokenMs} ms`);

  const cycleMs = args.firstTokenMs + (REPLY_TOKENS - 1) * args.tokenMs;
  const requestTimeoutMs = 60_000;
  const phaseTimeout = args.warmupMs + args.measureMs + requestTimeoutMs + 30_000;
  const maxN = Math.max(...args.ns);
  let mock: ChildRpc | undefined;
  let clients: ChildRpc | undefined;
  let bench: ChatBench | undefined;
  const results: NResult[] = [];
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
      reply: { text: replyText(), firstTokenDelayMs: args.firstTokenMs, tokenDelayMs: args.tokenMs, pacing: args.pacing },
    });
    bench = await startChatBench({ users: maxN, maxUsers: maxN, mockUrl, log });
    const { server, users } = bench;
    const dbTiming = process.env.BENCH_DB_TIMING === '1' ? timeDb({ chat: server.chatDb, trading: server.tradingDb }) : undefined;
    clients = await forkChild('bench/lib/chat-clients.process.ts');
    const rpc = clients;
    const connect = (n: number) =>
      rpc.call<{ connected: number; ms: number }>('connect', { url: server.url, tokens: users.slice(0, n).map((u) => u.accessToken) }, 180_000);
    const disconnect = async () => {
      await rpc.call('disconnect');
      for (let i = 0; i < 200 && server.io.engine.clientsCount > 0; i++) await new Promise((r) => setTimeout(r, 50));
    };
    const phase = (cmd: 'zmarty' | 'baseline', spec: PhaseSpec & { mockUrl?: string; body?: Record<string, unknown> }) =>
      rpc.call<PhaseRaw>(cmd, { ...spec, requestTimeoutMs }, phaseTimeout);

    /** zmarty_chat_early_provider_starts_total by outcome, from the server's GET /metrics. */
    const earlyStarts = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const count = (outcome: string) => seriesValue(text, 'zmarty_chat_early_provider_starts_total', { outcome }) ?? 0;
      return { used: count('used'), cancelled: count('cancelled') };
    };

    /** One Zmarty phase with the server-side figures: CPU, RSS, event-loop delay, stage timings, optional profile. */
    const measured = async (label: string, n: number, spec: PhaseSpec): Promise<{ raw: PhaseRaw; server: ServerSide }> => {
      const early0 = await earlyStarts();
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const gc = watchGc();
      dbTiming?.reset();
      const timings = collectTimings();
      const profiler = process.env.BENCH_CPU_PROFILE ? await startCpuProfile() : undefined;
      const allocations = process.env.BENCH_ALLOC_PROFILE ? await startAllocationProfile() : undefined;
      let peakRss = process.memoryUsage.rss();
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 250);
      const dbCpu = startPostgresCpu();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const raw = await phase('zmarty', spec);
      const cpu = process.cpuUsage(cpu0);
      const dbSeconds = dbCpu();
      const elapsed = performance.now() - t0;
      clearInterval(sampler);
      loop.disable();
      const gcPauses = gc.stop();
      const stages = timings.stop();
      let profileTop: string[] | undefined;
      if (profiler) {
        const file = `${process.env.BENCH_CPU_PROFILE}-${label}-n${n}.cpuprofile`;
        const profile = await profiler.stop(file);
        profileTop = summarizeCpuProfile(profile, 15);
        log(`N=${n} ${label}: server CPU profile written to ${file}`);
      }
      if (allocations) {
        const file = `${process.env.BENCH_ALLOC_PROFILE}-${label}-n${n}.heapprofile`;
        const profile = await allocations.stop(file);
        log(`N=${n} ${label}: allocation profile written to ${file}`);
        for (const line of summarizeAllocationProfile(profile, 20, { count: raw.tokensTotal, unit: 'token' })) log(line);
      }
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const early1 = await earlyStarts();
      return {
        raw,
        server: {
          cpuPct: (cpuMs / elapsed) * 100,
          cpuMsPer1kTokens: raw.tokensTotal > 0 ? (cpuMs / raw.tokensTotal) * 1000 : Number.NaN,
          dbCpuMsPer1kTokens: dbSeconds !== undefined && raw.tokensTotal > 0 ? ((dbSeconds * 1000) / raw.tokensTotal) * 1000 : undefined,
          rssMB: process.memoryUsage.rss() / 2 ** 20,
          peakRssMB: peakRss / 2 ** 20,
          loopDelayP99Ms: loop.percentile(99) / 1e6,
          gc: gcPauses,
          stages,
          earlyStarts: { used: early1.used - early0.used, cancelled: early1.cancelled - early0.cancelled },
          db: dbTiming?.report(),
          profileTop,
        },
      };
    };

    // Warm-up (JIT, pools, connections), discarded; it also yields the body the server sends upstream.
    log('warming up');
    await connect(Math.min(20, maxN));
    const warm: PhaseSpec = { n: Math.min(20, maxN), warmupMs: 0, measureMs: 3000, cycleMs, message: MESSAGE, unique: true };
    await phase('zmarty', warm);
    const body = await mock.call<Record<string, unknown>>('lastRequestBody');
    await phase('baseline', { ...warm, mockUrl, body });
    await disconnect();
    await mock.call('reset');

    for (const n of args.ns) {
      const connected = await connect(n);
      log(`N=${n}: ${connected.connected} sockets connected in ${Math.round(connected.ms)} ms; load ${os.loadavg()[0]!.toFixed(2)}`);
      const spec: PhaseSpec = { n, warmupMs: args.warmupMs, measureMs: args.measureMs, cycleMs, message: MESSAGE };
      const directCpu = startMachineCpu();
      const baseline = toPhaseResult(await phase('baseline', { ...spec, mockUrl, body }));
      const machineDirect = directCpu();
      const directMock = await mock.call<{ requests: number; writeRateP50: number | null }>('reset');
      const zmartyCpu = startMachineCpu();
      const through = await measured('zmarty', n, { ...spec, unique: true });
      const machineZmarty = zmartyCpu();
      const zmartyMock = await mock.call<{ requests: number; writeRateP50: number | null }>('reset');
      if (process.env.BENCH_HEAP_SNAPSHOT) log(`N=${n}: heap snapshot written to ${writeHeapSnapshot(`${process.env.BENCH_HEAP_SNAPSHOT}-n${n}.heapsnapshot`)}`);
      const providerCalls = zmartyMock.requests;
      const cached = args.cachePhase ? await measured('cached', n, { ...spec, unique: false }) : undefined;
      const cachedProviderCalls = args.cachePhase ? (await mock.call<{ requests: number }>('reset')).requests : undefined;
      await disconnect();
      const zmarty = toPhaseResult(through.raw);
      results.push({
        n,
        baseline,
        zmarty,
        server: through.server,
        machineCores: { direct: machineDirect, zmarty: machineZmarty },
        mockWriteRate: { direct: directMock.writeRateP50 ?? undefined, zmarty: zmartyMock.writeRateP50 ?? undefined },
        providerCalls,
        cached: cached && { phase: toPhaseResult(cached.raw), server: cached.server, providerCalls: cachedProviderCalls! },
      });
      log(
        `N=${n}: added TTFT p50 ${fmt(zmarty.ttft.p50 - baseline.ttft.p50)} / p95 ${fmt(zmarty.ttft.p95 - baseline.ttft.p95)} / ` +
          `p99 ${fmt(zmarty.ttft.p99 - baseline.ttft.p99)} ms; tokens/s ${fmt((zmarty.tokensPerSec / baseline.tokensPerSec) * 100, 1)} % of direct`,
      );
    }
  } finally {
    await cleanup();
  }
  printReport(results, { firstTokenMs: args.firstTokenMs, tokenMs: args.tokenMs, replyTokens: REPLY_TOKENS, loadBefore });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('[chat-bench] failed:', err);
    process.exit(1);
  },
);
