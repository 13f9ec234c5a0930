/**
 * Pipeline throughput: symbol-cycles per second (ingest → indicators/risk/
 * clusters → signal) for N watchers on the simulated market, loopback only.
 *
 *   npx tsx bench/pipeline.ts
 *
 * Settings (env): BENCH_WATCHERS (1000), BENCH_TIMEOUT_SECONDS (180),
 * BENCH_HISTORY_CANDLES (0: the first ingest without the track record's
 * history walk-forward, as the issue-12 figures were measured; the worker's
 * own default, 2000, costs ~1 s of CPU per new watcher), and the
 * worker's own WORKER_BATCH_SIZE / WORKER_CONCURRENCY / PIPELINE_DB_POOL_MAX /
 * PGBOSS_POOL_MAX. Uses TRADING_DATABASE_URL + CHAT_DATABASE_URL when set
 * (bench rows are removed afterwards), else a throw-away embedded PostgreSQL.
 *
 * Diagnostics: BENCH_CPU_PROFILE=/path/prefix writes a CPU profile of each
 * round (this process: the worker's jobs) to <prefix>-pipeline-<round>.cpuprofile
 * and prints its top functions and packages.
 *
 * Two rounds: "backfill" (each watcher is new: 300 candles fetched, stored
 * and analysed) and "steady" (the clock moves one candle: one new candle
 * each, the recurring INGEST_CRON case).
 */
import os from 'node:os';
import pg from 'pg';
import pino from 'pino';
import { TIMEFRAME_MS } from '../common/symbols';
import { parsePipelineConfig } from '../pipeline/config';
import { QUEUES } from '../pipeline/jobs/queues';
import { startPipeline } from '../pipeline/main';
import { createSimulatedMarket } from '../pipeline/market/simulated';
import { startCpuProfile, summarizeCpuProfile } from './lib/cpu-profile';
import { openBenchDatabases, percentile } from './pipeline-databases';

const WATCHERS = Number(process.env.BENCH_WATCHERS ?? 1000);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 180) * 1000;
const HISTORY_CANDLES = process.env.BENCH_HISTORY_CANDLES ?? '0';
const TIMEFRAME = '5m' as const;
const SYMBOL_PREFIX = 'BZ';

async function main() {
  const dbs = await openBenchDatabases();
  const admin = new pg.Pool({ connectionString: dbs.tradingUrl, max: 2 });
  // pool.end() resolves before its clients have closed; stopping the embedded server then errors them.
  admin.on('error', () => undefined);
  const symbols = Array.from({ length: WATCHERS }, (_, i) => `${SYMBOL_PREFIX}${String(i).padStart(5, '0')}/USDT`);
  const cleanup = async () => {
    const mine = `symbol like '${SYMBOL_PREFIX}%'`;
    for (const table of ['signals', 'history_decisions', 'track_record', 'liq_clusters', 'risk_metric', 'indicators', 'candles', 'watchers']) {
      await admin.query(`delete from public.${table} where ${mine}`);
    }
  };
  await cleanup();
  // Watchers exist before the worker starts, so only the measured fan-out enqueues them.
  await admin.query(`insert into public.watchers (symbol, timeframe, subscribers) select s, $2, 1 from unnest($1::text[]) s`, [symbols, TIMEFRAME]);

  // The worker's own defaults unless the environment overrides them.
  const config = parsePipelineConfig({
    ...process.env,
    TRADING_DATABASE_URL: dbs.tradingUrl,
    TRACK_RECORD_HISTORY_CANDLES: HISTORY_CANDLES,
    LOG_LEVEL: 'info',
  });
  const tf = TIMEFRAME_MS[TIMEFRAME];
  let now = Math.floor(Date.now() / tf) * tf + 1_000;
  const lines: string[] = [];
  // The production log path stays on (one line per job); lines are kept and parsed afterwards.
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
  const pipeline = await startPipeline({
    config,
    log,
    now: () => now,
    market: createSimulatedMarket({ now: () => now }),
    schedules: false,
    catchUpOnStart: false,
  });

  const signalsNow = async () =>
    (await admin.query<{ n: number }>(`select count(*)::int as n from public.signals where symbol like '${SYMBOL_PREFIX}%'`)).rows[0]!.n;

  async function round(name: string, expected: number) {
    lines.length = 0;
    const profiler = process.env.BENCH_CPU_PROFILE ? await startCpuProfile() : undefined;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await pipeline.boss.send(QUEUES.scheduleIngest, {});
    const base = expected - WATCHERS;
    let done = 0;
    let timedOut = false;
    for (;;) {
      done = (await signalsNow()) - base;
      if (done >= WATCHERS) break;
      if (performance.now() - started > TIMEOUT_MS) {
        timedOut = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    if (profiler) {
      const file = `${process.env.BENCH_CPU_PROFILE}-pipeline-${name}.cpuprofile`;
      const top = summarizeCpuProfile(await profiler.stop(file), 15);
      console.log(`${name}: worker CPU profile written to ${file}\n${top.join('\n')}`);
    }
    if (timedOut) {
      console.log(`${name.padEnd(8)} TIMED OUT after ${seconds.toFixed(0)} s: ${done}/${WATCHERS} symbol-cycles = ${(done / seconds).toFixed(1)} /s`);
      process.exitCode = 1;
      return false;
    }
    const jobs = lines.map((l) => JSON.parse(l) as { msg: string; queue?: string; job_ms?: number }).filter((l) => l.msg === 'job done');
    const stats = (queue: string) => {
      const ms = jobs.filter((j) => j.queue === queue).map((j) => j.job_ms ?? 0).sort((a, b) => a - b);
      return `${ms.length} jobs, job_ms p50 ${percentile(ms, 50)} p99 ${percentile(ms, 99)}`;
    };
    // CPU per symbol-cycle is what a loaded machine cannot distort much (the wall clock it can): the
    // worker's (this process: jobs, simulated market, pg client) own CPU, the database's not included.
    const cpuMsPerCycle = (cpu.user + cpu.system) / 1000 / WATCHERS;
    console.log(
      `${name.padEnd(8)} ${WATCHERS} symbol-cycles in ${seconds.toFixed(2)} s = ${(WATCHERS / seconds).toFixed(0)} /s` +
        `  (worker CPU ${((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)} cores, ${cpuMsPerCycle.toFixed(2)} ms per symbol-cycle)`,
    );
    console.log(`         ingest_indicators: ${stats(QUEUES.ingest)}; compute_signals: ${stats(QUEUES.signals)}`);
    console.log(`BENCH_RESULT ${JSON.stringify({ bench: 'pipeline', round: name, watchers: WATCHERS, historyCandles: Number(HISTORY_CANDLES), perSecond: Math.round(WATCHERS / seconds), workerCores: Number(((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)), workerCpuMsPerCycle: Number(cpuMsPerCycle.toFixed(2)) })}`);
    return true;
  }

  try {
    console.log(
      `pipeline bench: ${WATCHERS} watchers (${TIMEFRAME}), ${os.cpus().length} CPUs, ${dbs.embedded ? 'embedded' : 'given'} PostgreSQL; ` +
        `batchSize ${config.WORKER_BATCH_SIZE}, localConcurrency ${config.WORKER_CONCURRENCY}, ` +
        `db pool ${config.PIPELINE_DB_POOL_MAX}, pg-boss pool ${config.PGBOSS_POOL_MAX}, lookback ${config.CANDLE_LOOKBACK}, ` +
        `history ${config.TRACK_RECORD_HISTORY_CANDLES}`,
    );
    if (await round('backfill', WATCHERS)) {
      now += tf;
      await round('steady', 2 * WATCHERS);
    }
  } finally {
    await pipeline.stop();
    await cleanup().catch(() => undefined);
    await admin.end();
    await dbs.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
