/** Tables, verdict and the BENCH_RESULT line of the chat benchmark. */
import os from 'node:os';
import type { PhaseRaw } from './chat-clients.process';
import { fmt, round, summarize, table, type Summary } from './stats';

export const TARGET = { n: 100, addedP50Ms: 2, addedP99Ms: 10 };
/** Below this many sockets, GC noise outweighs what the sockets hold. */
const MEMORY_MIN_N = 50;

export interface PhaseResult {
  ttft: Summary;
  ack: Summary;
  tokensPerSec: number;
  streamRateP50: number;
  completed: number;
  clientCpuPct: number;
  errors: Record<string, number>;
}

export function toPhaseResult(raw: PhaseRaw): PhaseResult {
  return {
    ttft: summarize(raw.ttftMs),
    ack: summarize(raw.ackMs),
    tokensPerSec: (raw.tokensInWindow * 1000) / raw.windowMs,
    streamRateP50: summarize(raw.streamRates).p50,
    completed: raw.completed,
    clientCpuPct: raw.clientCpuPct,
    errors: raw.errors,
  };
}

export interface NResult {
  n: number;
  baseline: PhaseResult;
  zmarty: PhaseResult;
  /** Difference of the percentiles (through Zmarty − direct). */
  addedP50Ms: number;
  addedP99Ms: number;
  /** Server heap per idle connected socket at this N, after forced GC. */
  heapPerSocketKB: number;
  serverCpuPct: number;
  serverLoopDelayP99Ms: number;
  db?: Record<string, Summary>;
}

export interface SocketMemory {
  /** Sockets the marginal figures are measured over. */
  n: number;
  rssPerSocketKB: number;
  /** RSS delta over all sockets from the first one, which understates (see bench/chat.ts). */
  naiveRssPerSocketKB: number;
  heapPerSocketKB: number;
  externalPerSocketKB: number;
  forcedGc: boolean;
}

export interface RunInfo {
  firstTokenMs: number;
  tokenMs: number;
  replyTokens: number;
  loadBefore: number;
}

export const errorCount = (r: NResult) => [r.baseline.errors, r.zmarty.errors].flatMap((e) => Object.values(e)).reduce((s, v) => s + v, 0);

export function printReport(results: NResult[], memory: SocketMemory | undefined, info: RunInfo): void {
  console.log(`\nMock: first token after ${info.firstTokenMs} ms, then 1 token / ${info.tokenMs} ms, ${info.replyTokens} tokens per answer.`);
  console.log('Time to first token (ms): base = the mock called directly; zmarty = chat:send emitted → first chat:token received');
  console.log(
    table(
      ['N', 'base p50', 'base p99', 'zmarty p50', 'zmarty p99', 'added p50', 'added p99', 'samples b/z', 'errors'],
      results.map((r) => [
        String(r.n),
        r.baseline.ttft.p50,
        r.baseline.ttft.p99,
        r.zmarty.ttft.p50,
        r.zmarty.ttft.p99,
        r.addedP50Ms,
        r.addedP99Ms,
        `${r.baseline.ttft.count}/${r.zmarty.ttft.count}`,
        String(errorCount(r)),
      ]),
    ),
  );
  console.log('\nDelivery and server load');
  console.log('(tok/s: tokens received by all clients per second; ack: chat:send → ack, i.e. limits + context + credit reservation;');
  console.log(' CPU: % of one core during the phase; loop p99: server event-loop delay, ms; heap/socket: idle socket, after forced GC)');
  console.log(
    table(
      ['N', 'tok/s base', 'tok/s zmarty', 'stream tok/s p50', 'ack p50', 'ack p99', 'server CPU', 'client CPU', 'loop p99', 'heap/socket KB'],
      results.map((r) => [
        String(r.n),
        r.baseline.tokensPerSec,
        r.zmarty.tokensPerSec,
        r.zmarty.streamRateP50,
        r.zmarty.ack.p50,
        r.zmarty.ack.p99,
        r.serverCpuPct,
        r.zmarty.clientCpuPct,
        r.serverLoopDelayP99Ms,
        r.n >= MEMORY_MIN_N ? r.heapPerSocketKB : 'n/a',
      ]),
    ),
  );
  if (memory) {
    console.log(
      `\nMemory per idle connected socket (fresh server, marginal over ${memory.n} sockets${memory.forcedGc ? ', forced GC' : ', NO forced GC'}): ` +
        `RSS ${fmt(memory.rssPerSocketKB, 1)} KB (heap ${fmt(memory.heapPerSocketKB, 1)} KB, external ${fmt(memory.externalPerSocketKB, 1)} KB); ` +
        `RSS delta from the first socket ${fmt(memory.naiveRssPerSocketKB, 1)} KB (understated: V8 reuses resident free pages)`,
    );
  }
  for (const r of results) {
    if (r.db) {
      console.log(`\nN=${r.n} server database time (ms per call, pool-wait = waiting for a pooled connection):`);
      console.log(table(['call', 'count', 'p50', 'p99', 'max'], Object.entries(r.db).map(([k, v]) => [k, String(v.count), v.p50, v.p99, v.max])));
    }
    if (errorCount(r) > 0) console.log(`N=${r.n} errors: baseline ${JSON.stringify(r.baseline.errors)}, zmarty ${JSON.stringify(r.zmarty.errors)}`);
  }

  const target = results.find((r) => r.n === TARGET.n);
  const standard = info.firstTokenMs === 50 && info.tokenMs === 5;
  let verdict = 'NOT RUN';
  if (target) {
    const ok50 = target.addedP50Ms <= TARGET.addedP50Ms;
    const ok99 = target.addedP99Ms <= TARGET.addedP99Ms;
    // A run with failed requests does not pass, whatever its latency.
    verdict = ok50 && ok99 && errorCount(target) === 0 ? 'PASS' : 'MISS';
    console.log(
      `\nTarget at N=${TARGET.n}: added TTFT p50 ≤ ${TARGET.addedP50Ms} ms (${fmt(target.addedP50Ms)}: ${ok50 ? 'PASS' : 'MISS'}), ` +
        `p99 ≤ ${TARGET.addedP99Ms} ms (${fmt(target.addedP99Ms)}: ${ok99 ? 'PASS' : 'MISS'}), errors ${errorCount(target)} → ${verdict}` +
        (standard ? '' : ' (non-standard mock rates: not comparable with the target)'),
    );
  } else {
    console.log(`\nThe target is stated at N=${TARGET.n}, which this run did not include.`);
  }

  const compact = results.map((r) => ({
    n: r.n,
    baseTtftP50: round(r.baseline.ttft.p50),
    baseTtftP99: round(r.baseline.ttft.p99),
    ttftP50: round(r.zmarty.ttft.p50),
    ttftP99: round(r.zmarty.ttft.p99),
    addedP50: round(r.addedP50Ms),
    addedP99: round(r.addedP99Ms),
    ackP50: round(r.zmarty.ack.p50),
    ackP99: round(r.zmarty.ack.p99),
    samples: r.zmarty.ttft.count,
    tokPerSec: round(r.zmarty.tokensPerSec, 0),
    baseTokPerSec: round(r.baseline.tokensPerSec, 0),
    serverCpuPct: round(r.serverCpuPct, 0),
    loopP99: round(r.serverLoopDelayP99Ms),
    heapPerSocketKB: r.n >= MEMORY_MIN_N ? round(r.heapPerSocketKB, 1) : null,
    errors: errorCount(r),
  }));
  const result = {
    bench: 'chat',
    verdict: standard ? verdict : `${verdict} (non-standard rates)`,
    target: TARGET,
    mock: { firstTokenMs: info.firstTokenMs, tokenMs: info.tokenMs, tokens: info.replyTokens },
    cpus: os.cpus().length,
    loadBefore: round(info.loadBefore),
    loadAfter: round(os.loadavg()[0]!),
    memory: memory && {
      n: memory.n,
      rssPerSocketKB: round(memory.rssPerSocketKB, 1),
      heapPerSocketKB: round(memory.heapPerSocketKB, 1),
      naiveRssPerSocketKB: round(memory.naiveRssPerSocketKB, 1),
    },
    results: compact,
  };
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
}
