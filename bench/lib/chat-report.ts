/** Tables, verdict and the BENCH_RESULT line of the chat benchmark (bench/chat.ts). */
import os from 'node:os';
import type { PhaseRaw } from './chat-clients.process';
import { fmt, round, summarize, table, type Summary } from './stats';

/** Issue 12's targets: added TTFT (ms) per N, and delivered tokens/s against direct at N = 100. */
export const TARGETS = [
  { n: 20, addedP50Ms: 3, addedP99Ms: 15 },
  { n: 100, addedP50Ms: 15, addedP99Ms: 100, minTokensPct: 97 },
] as const;

export interface PhaseResult {
  ttft: Summary;
  ack: Summary;
  tokensPerSec: number;
  windowMs: number;
  streamRateP50: number;
  endWait: Summary;
  /** Answers asked inside the window that ended. */
  completed: number;
  clientCpuPct: number;
  /** Websocket payload bytes and engine.io packets (= socket.io events) per token received. */
  bytesPerToken: number;
  eventsPerToken: number;
  errors: Record<string, number>;
}

export function toPhaseResult(raw: PhaseRaw): PhaseResult {
  return {
    ttft: summarize(raw.ttftMs),
    ack: summarize(raw.ackMs),
    tokensPerSec: (raw.tokensInWindow * 1000) / raw.windowMs,
    windowMs: raw.windowMs,
    streamRateP50: summarize(raw.streamRates).p50,
    endWait: summarize(raw.endWaitMs),
    completed: raw.completed,
    clientCpuPct: raw.clientCpuPct,
    bytesPerToken: raw.tokensInWindow > 0 ? raw.wireBytes / raw.tokensInWindow : Number.NaN,
    eventsPerToken: raw.tokensInWindow > 0 ? raw.wirePackets / raw.tokensInWindow : Number.NaN,
    errors: raw.errors,
  };
}

/** The server process during a Zmarty phase. */
export interface ServerSide {
  /** % of one core over the phase. */
  cpuPct: number;
  /** Server CPU (ms) over the phase divided by the tokens it relayed, × 1,000. */
  cpuMsPer1kTokens: number;
  /** CPU of every postgres process over the phase divided by the tokens relayed, × 1,000 (where /proc exists). */
  dbCpuMsPer1kTokens?: number;
  rssMB: number;
  peakRssMB: number;
  loopDelayP99Ms: number;
  /** Garbage-collection pauses of the server process over the phase. */
  gc?: Record<'minor' | 'major', { count: number; totalMs: number; maxMs: number }>;
  /** Per-stage timings of the answer path (ms), from diagnostics_channel. */
  stages: Record<string, Summary>;
  /** Provider requests sent while the reservation was being made (CHAT_EARLY_PROVIDER_START), by outcome. */
  earlyStarts?: { used: number; cancelled: number };
  db?: Record<string, Summary>;
  profileTop?: string[];
}

export interface NResult {
  n: number;
  baseline: PhaseResult;
  zmarty: PhaseResult;
  server: ServerSide;
  /** Requests the mock received during the zmarty phase (one per answer: no answer came from the cache). */
  providerCalls: number;
  /** Cores the whole machine was busy during each phase (mock, clients, server, database), where measurable. */
  machineCores?: { direct?: number; zmarty?: number };
  /** The mock's own pace in each phase: tokens/s from its first to its last token written, median over answers. */
  mockWriteRate?: { direct?: number; zmarty?: number };
  cached?: { phase: PhaseResult; server: ServerSide; providerCalls: number };
}

export interface RunInfo {
  firstTokenMs: number;
  tokenMs: number;
  replyTokens: number;
  loadBefore: number;
}

const added = (r: NResult, p: 'p50' | 'p95' | 'p99') => r.zmarty.ttft[p] - r.baseline.ttft[p];
const tokensPct = (r: NResult) => (r.zmarty.tokensPerSec / r.baseline.tokensPerSec) * 100;
const errorCount = (r: NResult) =>
  [r.baseline.errors, r.zmarty.errors, r.cached?.phase.errors ?? {}].flatMap((e) => Object.values(e)).reduce((s, v) => s + v, 0);

/** The order of the answer path's stages in the breakdown. */
const STAGE_ORDER = ['limits', 'facts', 'context', 'cacheLookup', 'prompt', 'reservation', 'accepted', 'providerFirstToken', 'firstEmit'];

export function printReport(results: NResult[], info: RunInfo): void {
  console.log(`\nMock: first token after ${info.firstTokenMs} ms, then 1 token / ${info.tokenMs} ms, ${info.replyTokens} tokens per answer.`);
  console.log('Time to first token (ms): direct = the mock called by the same client; zmarty = chat:send emitted → first chat:token (unique questions: no cache)');
  console.log(
    table(
      ['N', 'direct p50', 'direct p99', 'zmarty p50', 'zmarty p95', 'zmarty p99', 'added p50', 'added p95', 'added p99', 'samples d/z', 'errors'],
      results.map((r) => [
        String(r.n),
        r.baseline.ttft.p50,
        r.baseline.ttft.p99,
        r.zmarty.ttft.p50,
        r.zmarty.ttft.p95,
        r.zmarty.ttft.p99,
        added(r, 'p50'),
        added(r, 'p95'),
        added(r, 'p99'),
        `${r.baseline.ttft.count}/${r.zmarty.ttft.count}`,
        String(errorCount(r)),
      ]),
    ),
  );
  console.log(
    '\nDelivery, wire and server cost (CPU/1k tok: server CPU ms per 1,000 tokens relayed, whole answer path included; DB/1k tok: the same for every postgres process)',
  );
  console.log(
    table(
      ['N', 'tok/s direct', 'tok/s zmarty', '% of direct', 'bytes/tok', 'events/tok', 'CPU/1k tok', 'DB/1k tok', 'server CPU %', 'RSS MB', 'peak RSS', 'loop p99', 'ack p50', 'ack p99'],
      results.map((r) => [
        String(r.n),
        r.baseline.tokensPerSec,
        r.zmarty.tokensPerSec,
        fmt(tokensPct(r), 1),
        r.zmarty.bytesPerToken,
        fmt(r.zmarty.eventsPerToken, 3),
        r.server.cpuMsPer1kTokens,
        r.server.dbCpuMsPer1kTokens ?? Number.NaN,
        r.server.cpuPct,
        fmt(r.server.rssMB, 0),
        fmt(r.server.peakRssMB, 0),
        r.server.loopDelayP99Ms,
        r.zmarty.ack.p50,
        r.zmarty.ack.p99,
      ]),
    ),
  );
  for (const r of results) {
    // Where a closed loop's tokens/s goes: each answer costs its time to first token, its stream and its end.
    const cycle = (p: PhaseResult) => (p.completed > 0 ? (r.n * p.windowMs) / p.completed : Number.NaN);
    console.log(
      `\nN=${r.n} per answer, direct vs zmarty: mean cycle (N × window / answers) ${fmt(cycle(r.baseline), 0)} vs ${fmt(cycle(r.zmarty), 0)} ms; ` +
        `stream first → last token p50 ${fmt(r.baseline.streamRateP50, 1)} vs ${fmt(r.zmarty.streamRateP50, 1)} tokens/s; ` +
        `last token → end p50 ${fmt(r.baseline.endWait.p50)} vs ${fmt(r.zmarty.endWait.p50)} ms, p99 ${fmt(r.baseline.endWait.p99)} vs ${fmt(r.zmarty.endWait.p99)} ms; ` +
        `the mock's own pace, first → last token written, p50 ${fmt(r.mockWriteRate?.direct, 1)} vs ${fmt(r.mockWriteRate?.zmarty, 1)} tokens/s`,
    );
    const cores = (c?: number) => (c === undefined ? 'n/a' : c.toFixed(2));
    if (r.machineCores) {
      console.log(
        `\nN=${r.n} machine CPU busy, every process (of ${os.cpus().length} cores): direct phase ${cores(r.machineCores.direct)}, zmarty phase ${cores(r.machineCores.zmarty)}`,
      );
    }
    const gc = r.server.gc;
    if (gc) {
      console.log(
        `\nN=${r.n} server GC pauses (zmarty phase): minor ${gc.minor.count} × (total ${fmt(gc.minor.totalMs, 0)} ms, max ${fmt(gc.minor.maxMs, 1)} ms), ` +
          `major ${gc.major.count} × (total ${fmt(gc.major.totalMs, 0)} ms, max ${fmt(gc.major.maxMs, 1)} ms)`,
      );
    }
    const early = r.server.earlyStarts;
    const sentEarly = early ? `; sent while reserving: ${early.used} used, ${early.cancelled} cancelled` : '';
    console.log(`\nN=${r.n} answer path, ms from chat:send received (p50 / p95 / p99; provider calls ${r.providerCalls}${sentEarly}):`);
    const stages = Object.entries(r.server.stages).sort((a, b) => rank(a[0]) - rank(b[0]));
    console.log(table(['stage', 'count', 'p50', 'p95', 'p99', 'max'], stages.map(([k, v]) => [k, String(v.count), v.p50, v.p95, v.p99, v.max])));
    if (r.server.db) {
      console.log(`N=${r.n} server database time (ms per call, pool-wait = waiting for a pooled connection):`);
      console.log(table(['call', 'count', 'p50', 'p99', 'max'], Object.entries(r.server.db).map(([k, v]) => [k, String(v.count), v.p50, v.p99, v.max])));
    }
    if (r.server.profileTop) console.log(`N=${r.n} server CPU profile (zmarty phase):\n${r.server.profileTop.join('\n')}`);
    if (errorCount(r) > 0) console.log(`N=${r.n} errors: direct ${JSON.stringify(r.baseline.errors)}, zmarty ${JSON.stringify(r.zmarty.errors)}, cached ${JSON.stringify(r.cached?.phase.errors ?? {})}`);
  }
  const withCache = results.filter((r) => r.cached);
  if (withCache.length) {
    console.log('\nAnswer cache (the same question every time: answered from the cache after the first; TTFT absolute, no provider behind it)');
    console.log(
      table(
        ['N', 'TTFT p50', 'TTFT p95', 'TTFT p99', 'answers', 'provider calls', 'tok/s', 'CPU/1k tok', 'events/tok'],
        withCache.map((r) => [
          String(r.n),
          r.cached!.phase.ttft.p50,
          r.cached!.phase.ttft.p95,
          r.cached!.phase.ttft.p99,
          String(r.cached!.phase.completed),
          String(r.cached!.providerCalls),
          r.cached!.phase.tokensPerSec,
          r.cached!.server.cpuMsPer1kTokens,
          fmt(r.cached!.phase.eventsPerToken, 3),
        ]),
      ),
    );
  }

  const standard = info.firstTokenMs === 50 && info.tokenMs === 10;
  const verdicts = TARGETS.map((t) => {
    const r = results.find((x) => x.n === t.n);
    if (!r) return { n: t.n, verdict: 'NOT RUN' };
    const checks = [
      [`added p50 ≤ ${t.addedP50Ms} ms`, added(r, 'p50'), added(r, 'p50') <= t.addedP50Ms],
      [`added p99 ≤ ${t.addedP99Ms} ms`, added(r, 'p99'), added(r, 'p99') <= t.addedP99Ms],
      ...('minTokensPct' in t ? [[`tokens/s ≥ ${t.minTokensPct} % of direct`, tokensPct(r), tokensPct(r) >= t.minTokensPct] as const] : []),
    ] as const;
    // A run with failed requests does not pass, whatever its latency.
    const ok = checks.every((c) => c[2]) && errorCount(r) === 0;
    console.log(`Target N=${t.n}: ${checks.map(([what, v, pass]) => `${what} (${fmt(v)}: ${pass ? 'PASS' : 'MISS'})`).join(', ')}, errors ${errorCount(r)} → ${ok ? 'PASS' : 'MISS'}`);
    return { n: t.n, verdict: ok ? 'PASS' : 'MISS' };
  });
  if (!standard) console.log('(non-standard mock rates: not comparable with the targets)');

  const compact = results.map((r) => ({
    n: r.n,
    directTtftP50: round(r.baseline.ttft.p50),
    directTtftP99: round(r.baseline.ttft.p99),
    addedP50: round(added(r, 'p50')),
    addedP95: round(added(r, 'p95')),
    addedP99: round(added(r, 'p99')),
    samples: r.zmarty.ttft.count,
    tokPerSec: round(r.zmarty.tokensPerSec, 0),
    directTokPerSec: round(r.baseline.tokensPerSec, 0),
    tokensPctOfDirect: round(tokensPct(r), 1),
    cpuMsPer1kTokens: round(r.server.cpuMsPer1kTokens, 1),
    dbCpuMsPer1kTokens: r.server.dbCpuMsPer1kTokens === undefined ? null : round(r.server.dbCpuMsPer1kTokens, 1),
    machineCoresDirect: r.machineCores?.direct === undefined ? null : round(r.machineCores.direct, 2),
    machineCoresZmarty: r.machineCores?.zmarty === undefined ? null : round(r.machineCores.zmarty, 2),
    streamRateDirect: round(r.baseline.streamRateP50, 1),
    streamRateZmarty: round(r.zmarty.streamRateP50, 1),
    mockWriteRateDirect: r.mockWriteRate?.direct === undefined ? null : round(r.mockWriteRate.direct, 1),
    mockWriteRateZmarty: r.mockWriteRate?.zmarty === undefined ? null : round(r.mockWriteRate.zmarty, 1),
    bytesPerToken: round(r.zmarty.bytesPerToken, 1),
    eventsPerToken: round(r.zmarty.eventsPerToken, 3),
    rssMB: round(r.server.rssMB, 0),
    errors: errorCount(r),
    cachedTtftP50: r.cached ? round(r.cached.phase.ttft.p50) : null,
    cachedTtftP99: r.cached ? round(r.cached.phase.ttft.p99) : null,
  }));
  const result = {
    bench: 'chat',
    verdicts: standard ? verdicts : verdicts.map((v) => ({ ...v, verdict: `${v.verdict} (non-standard rates)` })),
    targets: TARGETS,
    mock: { firstTokenMs: info.firstTokenMs, tokenMs: info.tokenMs, tokens: info.replyTokens },
    cpus: os.cpus().length,
    loadBefore: round(info.loadBefore),
    loadAfter: round(os.loadavg()[0]!),
    results: compact,
  };
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
}

function rank(stage: string): number {
  const i = STAGE_ORDER.indexOf(stage);
  return i === -1 ? STAGE_ORDER.length : i;
}
