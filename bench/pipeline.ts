/**
 * Pipeline throughput: symbol-cycles per second (ingest → indicators/risk/
 * clusters → signal) for N watchers on the simulated market, loopback only.
 *
 *   npx tsx bench/pipeline.ts
 *
 * Settings (env): BENCH_WATCHERS (1000), BENCH_TIMEOUT_SECONDS (180),
 * BENCH_HISTORY_CANDLES (0: the first ingest without the track record's
 * history walk-forward, as the issue-12 figures were measured; the worker's
 * own default, 2000, costs ~0.1 s of worker CPU and ~0.07 s of database CPU
 * per new watcher: try BENCH_WATCHERS=100 with it), and the
 * worker's own WORKER_BATCH_SIZE / WORKER_CONCURRENCY / PIPELINE_DB_POOL_MAX /
 * PGBOSS_POOL_MAX. Uses TRADING_DATABASE_URL + CHAT_DATABASE_URL when set
 * (bench rows are removed afterwards), else a throw-away embedded PostgreSQL.
 * BENCH_WORKER_PROCESSES (1): run that many worker processes against the
 * database (this one and N-1 children), as several `worker:` processes of the
 * Procfile would: one Node process computes on one core. Worker CPU and job
 * figures then sum over all of them; statements and pool waits count this
 * process's only.
 * BENCH_STEADY_ROUNDS (1): that many steady rounds, one candle apart. With
 * several worker processes the first steady round is the one where half the
 * watchers land on a process that has not seen them yet; the later ones show
 * processes taking turns on warm caches.
 * BENCH_CPU_PROFILE=/tmp/pipe writes the worker's CPU profile of each round
 * (/tmp/pipe-backfill.cpuprofile …) and prints its top self times.
 *
 * Per round it also prints what a symbol-cycle costs the database: statements
 * per symbol-cycle of the worker's pool and of pg-boss's (each is a round
 * trip), the busiest statement kinds, the wait for a pooled connection, and
 * the CPU the database's backends used. On a server with pg_stat_statements
 * (TRADING_DATABASE_URL naming one where the extension is created), also the
 * statements that took the most of the database's time.
 *
 * Two rounds: "backfill" (each watcher is new: CANDLE_LOOKBACK candles, 1,000 by
 * default, fetched, stored and analysed) and "steady" (the clock moves one candle: one new candle
 * each, the recurring INGEST_CRON case). Then the backfill's floor on the
 * same machine and database (bench/lib/first-ingest-floor.ts): as many other
 * new pairs given only the work no first ingest can skip (their candles
 * fetched, checked, analysed and stored as rows), in the worker's batches.
 */
import os from 'node:os';
import pg from 'pg';
import pino from 'pino';
import { TIMEFRAME_MS } from '../common/symbols';
import { WORKER_NODE_FLAGS } from '../common/node-flags';
import { parsePipelineConfig } from '../pipeline/config';
import { QUEUES } from '../pipeline/jobs/queues';
import { startPipeline } from '../pipeline/main';
import { createSimulatedMarket } from '../pipeline/market/simulated';
import { openBenchDatabases, percentile } from './pipeline-databases';
import { startCpuProfile, summarizeCpuProfile } from './lib/cpu-profile';
import { processCpuSeconds, startPgCensus } from './lib/pg-census';
import { forkChild, type ChildRpc } from './lib/child';
import { runFirstIngestFloor } from './lib/first-ingest-floor';

const WATCHERS = Number(process.env.BENCH_WATCHERS ?? 1000);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_SECONDS ?? 180) * 1000;
const HISTORY_CANDLES = process.env.BENCH_HISTORY_CANDLES ?? '0';
const TIMEFRAME = '5m' as const;
const SYMBOL_PREFIX = 'BZ';
/**
 * The floor's pairs (never watched: only their candles are stored). They sort after the bench's own, so their
 * inserts go to the right edge of the candles index, as a new pair's would into a fresh one.
 */
const FLOOR_PREFIX = 'ZZFLOOR';
const CPU_PROFILE = process.env.BENCH_CPU_PROFILE;
const WORKER_PROCESSES = Math.max(1, Number(process.env.BENCH_WORKER_PROCESSES ?? 1));
const STEADY_ROUNDS = Math.max(1, Number(process.env.BENCH_STEADY_ROUNDS ?? 1));

async function main() {
  const dbs = await openBenchDatabases();
  const admin = new pg.Pool({ connectionString: dbs.tradingUrl, max: 2 });
  // pool.end() resolves before its clients have closed; stopping the embedded server then errors them.
  admin.on('error', () => undefined);
  const symbols = Array.from({ length: WATCHERS }, (_, i) => `${SYMBOL_PREFIX}${String(i).padStart(5, '0')}/USDT`);
  const cleanup = async () => {
    const mine = `symbol like '${SYMBOL_PREFIX}%' or symbol like '${FLOOR_PREFIX}%'`;
    for (const table of ['signals', 'history_decisions', 'track_record', 'liq_clusters', 'risk_metric', 'indicators', 'candles', 'watchers']) {
      await admin.query(`delete from public.${table} where ${mine}`);
    }
  };
  await cleanup();
  // A given database may hold an earlier run's deleted rows: without this, the next run's inserts
  // and probes wade through their dead index entries and measure the leftovers, not the pipeline.
  for (const table of ['signals', 'history_decisions', 'track_record', 'liq_clusters', 'risk_metric', 'indicators', 'candles', 'watchers']) {
    await admin.query(`vacuum (analyze) public.${table}`);
  }
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
  const others: ChildRpc[] = [];
  for (let i = 1; i < WORKER_PROCESSES; i++) {
    const child = await forkChild('bench/lib/pipeline-worker.process.ts', { execArgv: [...WORKER_NODE_FLAGS] });
    others.push(child);
    await child.call('start', { config, now });
  }

  const signalsNow = async () =>
    (await admin.query<{ n: number }>(`select count(*)::int as n from public.signals where symbol like '${SYMBOL_PREFIX}%'`)).rows[0]!.n;

  const census = startPgCensus();
  // The database's backends serving this database (pools keep theirs open across a round).
  const backendPids = async () =>
    (await admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database()')).rows.map((r) => r.pid);

  /** The CPU seconds the database's backends use from now until the returned function is called. */
  const startDbCpu = async () => {
    const pidsBefore = await backendPids();
    const before = new Map(pidsBefore.map((pid) => [pid, processCpuSeconds(pid)]));
    return async () => {
      const pidsAfter = new Set([...pidsBefore, ...(await backendPids())]);
      // A backend that exited meanwhile is missed (its CPU is gone with it): a lower bound.
      return [...pidsAfter].reduce((sum, pid) => {
        const after = processCpuSeconds(pid);
        return after === undefined ? sum : sum + after - (before.get(pid) ?? 0);
      }, 0);
    };
  };

  const statementStats = (
    await admin.query<{ n: number }>(`select count(*)::int as n from pg_extension where extname = 'pg_stat_statements'`)
  ).rows[0]!.n > 0;

  async function round(name: string, expected: number) {
    lines.length = 0;
    if (statementStats) await admin.query('select pg_stat_statements_reset()');
    const stopDbCpu = await startDbCpu();
    const profile = CPU_PROFILE ? await startCpuProfile() : undefined;
    census.reset();
    await Promise.all(others.map((c) => c.call('setNow', { now })));
    await Promise.all(others.map((c) => c.call('reset')));
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
    const own = process.cpuUsage(cpuBefore);
    const collected = await Promise.all(others.map((c) => c.call<{ cpuMicros: number; lines: string[] }>('collect')));
    // Every worker process's CPU, as user time (the split is not reported across processes).
    const cpu = { user: own.user + collected.reduce((sum, c) => sum + c.cpuMicros, 0), system: own.system };
    for (const c of collected) lines.push(...c.lines);
    const counted = census.snapshot();
    const dbCpu = await stopDbCpu();
    if (timedOut) {
      console.log(`${name.padEnd(8)} TIMED OUT after ${seconds.toFixed(0)} s: ${done}/${WATCHERS} symbol-cycles = ${(done / seconds).toFixed(1)} /s`);
      process.exitCode = 1;
      return 0;
    }
    const jobs = lines.map((l) => JSON.parse(l) as { msg: string; queue?: string; job_ms?: number }).filter((l) => l.msg === 'job done');
    const stats = (queue: string) => {
      const ms = jobs.filter((j) => j.queue === queue).map((j) => j.job_ms ?? 0).sort((a, b) => a - b);
      return `${ms.length} jobs, job_ms p50 ${percentile(ms, 50)} p99 ${percentile(ms, 99)}`;
    };
    console.log(
      `${name.padEnd(8)} ${WATCHERS} symbol-cycles in ${seconds.toFixed(2)} s = ${(WATCHERS / seconds).toFixed(0)} /s` +
        `  (worker CPU ${((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)} cores = ${((cpu.user + cpu.system) / 1e3 / WATCHERS).toFixed(2)} ms per symbol-cycle)`,
    );
    console.log(`         ingest_indicators: ${stats(QUEUES.ingest)}; compute_signals: ${stats(QUEUES.signals)}`);
    const perCycle = (n: number) => (n / WATCHERS).toFixed(2);
    const apps = ['zmarty-pipeline', 'zmarty-pgboss'];
    console.log(
      `         statements per symbol-cycle${WORKER_PROCESSES > 1 ? ' (this process)' : ''}: ` +
        apps.map((a) => `${a} ${perCycle(counted.byApp.get(a)?.count ?? 0)} (${((counted.byApp.get(a)?.ms ?? 0) / WATCHERS).toFixed(1)} ms)`).join(', ') +
        `; database backends CPU ${(dbCpu / seconds).toFixed(2)} cores = ${((dbCpu * 1000) / WATCHERS).toFixed(2)} ms per symbol-cycle`,
    );
    for (const a of apps) {
      const waits = counted.poolWaits.get(a) ?? [];
      console.log(`         ${a} pool wait: ${waits.length} checkouts, p50 ${percentile(waits, 50).toFixed(1)} p99 ${percentile(waits, 99).toFixed(1)} ms`);
    }
    const kinds = [...counted.byKind].filter(([k]) => apps.some((a) => k.startsWith(a))).sort((a, b) => b[1].ms - a[1].ms).slice(0, 8);
    for (const [kind, t] of kinds) console.log(`           ${String(t.count).padStart(6)} × ${(t.ms / t.count).toFixed(1).padStart(6)} ms  ${kind}`);
    if (statementStats) {
      const { rows } = await admin.query<{ calls: number; total: number; rows: number; query: string }>(
        `select calls::int, total_exec_time::float8 as total, rows::int, regexp_replace(query, '\\s+', ' ', 'g') as query
         from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())
         order by total_exec_time desc limit 10`,
      );
      const all = (await admin.query<{ t: number }>('select sum(total_exec_time)::float8 as t from pg_stat_statements')).rows[0]!.t;
      console.log(`         database time (pg_stat_statements): ${(all / WATCHERS).toFixed(2)} ms per symbol-cycle; the most:`);
      for (const r of rows) {
        console.log(`           ${String(r.calls).padStart(6)} × ${(r.total / r.calls).toFixed(2).padStart(7)} ms = ${(r.total / WATCHERS).toFixed(2)} ms/cycle  ${r.query.slice(0, 90)}`);
      }
    }
    if (profile) {
      const file = `${CPU_PROFILE}-${name}.cpuprofile`;
      const written = await profile.stop(file);
      console.log(`         CPU profile ${file}:`);
      for (const line of summarizeCpuProfile(written, 12)) console.log(`           ${line}`);
    }
    const ingestMs = jobs.filter((j) => j.queue === QUEUES.ingest).map((j) => j.job_ms ?? 0).sort((a, b) => a - b);
    console.log(
      `BENCH_RESULT ${JSON.stringify({
        bench: 'pipeline',
        round: name,
        watchers: WATCHERS,
        workerProcesses: WORKER_PROCESSES,
        historyCandles: Number(HISTORY_CANDLES),
        perSecond: Math.round(WATCHERS / seconds),
        workerCores: Number(((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)),
        databaseCores: Number((dbCpu / seconds).toFixed(2)),
        workerCpuMsPerCycle: Number(((cpu.user + cpu.system) / 1e3 / WATCHERS).toFixed(2)),
        databaseCpuMsPerCycle: Number(((dbCpu * 1000) / WATCHERS).toFixed(2)),
        statementsPerCycle: Object.fromEntries(apps.map((a) => [a, Number(perCycle(counted.byApp.get(a)?.count ?? 0))])),
        ingestJobMsP50: percentile(ingestMs, 50),
        loadAverage: os.loadavg().map((l) => Number(l.toFixed(2))),
      })}`,
    );
    return WATCHERS / seconds;
  }

  /**
   * The backfill's floor (see the top), run after the rounds so that it leaves the backfill's table as it was
   * (deleting a million candles and vacuuming made the next inserts ~25 % dearer); it gains a warm JIT by it.
   */
  async function floorRound() {
    const pool = new pg.Pool({ connectionString: dbs.tradingUrl, max: config.PIPELINE_DB_POOL_MAX, application_name: 'zmarty-floor' });
    pool.on('error', () => undefined);
    // Its connections opened first, so that their backends are among those whose CPU is counted.
    const clients = await Promise.all(Array.from({ length: config.PIPELINE_DB_POOL_MAX }, () => pool.connect()));
    for (const c of clients) c.release();
    const stopDbCpu = await startDbCpu();
    const cpuBefore = process.cpuUsage();
    const seconds = await runFirstIngestFloor({
      pool,
      market: createSimulatedMarket({ now: () => now }),
      symbols: symbols.map((s) => FLOOR_PREFIX + s.slice(SYMBOL_PREFIX.length)),
      timeframe: TIMEFRAME,
      now,
      lookback: config.CANDLE_LOOKBACK,
      batchSize: config.WORKER_BATCH_SIZE,
      concurrency: config.WORKER_CONCURRENCY,
    });
    const cpu = process.cpuUsage(cpuBefore);
    const dbCpu = await stopDbCpu();
    await pool.end();
    return {
      seconds,
      perSecond: WATCHERS / seconds,
      workerCpuMs: (cpu.user + cpu.system) / 1e3 / WATCHERS,
      databaseCpuMs: (dbCpu * 1000) / WATCHERS,
    };
  }

  function printFloor(floor: Awaited<ReturnType<typeof floorRound>>, backfillPerSecond: number) {
    console.log(
      `floor    ${WATCHERS} new pairs' candles fetched, checked, analysed and stored in ${floor.seconds.toFixed(2)} s = ${floor.perSecond.toFixed(0)} /s` +
        `  (worker CPU ${floor.workerCpuMs.toFixed(2)} ms, database CPU ${floor.databaseCpuMs.toFixed(2)} ms per pair; measured after the rounds); ` +
        `the backfill did ${((100 * backfillPerSecond) / floor.perSecond).toFixed(0)} % of it`,
    );
    console.log(
      `BENCH_RESULT ${JSON.stringify({
        bench: 'pipeline',
        round: 'floor',
        watchers: WATCHERS,
        perSecond: Math.round(floor.perSecond),
        workerCpuMsPerCycle: Number(floor.workerCpuMs.toFixed(2)),
        databaseCpuMsPerCycle: Number(floor.databaseCpuMs.toFixed(2)),
      })}`,
    );
  }

  try {
    console.log(
      `pipeline bench: ${WATCHERS} watchers (${TIMEFRAME}), ${os.cpus().length} CPUs, ${dbs.embedded ? 'embedded' : 'given'} PostgreSQL; ` +
        `batchSize ${config.WORKER_BATCH_SIZE}, localConcurrency ${config.WORKER_CONCURRENCY}, ` +
        `db pool ${config.PIPELINE_DB_POOL_MAX}, pg-boss pool ${config.PGBOSS_POOL_MAX}, lookback ${config.CANDLE_LOOKBACK}, ` +
        `history ${config.TRACK_RECORD_HISTORY_CANDLES}, worker processes ${WORKER_PROCESSES}; ` +
        // Run directly (npx tsx bench/pipeline.ts), this process lacks the worker's flags that npm run bench gives it.
        `node flags ${process.execArgv.filter((f) => f.startsWith('--max-')).join(' ') || `none (the worker's are ${WORKER_NODE_FLAGS.join(' ')})`}`,
    );
    const backfillPerSecond = await round('backfill', WATCHERS);
    if (backfillPerSecond) {
      for (let k = 1; k <= STEADY_ROUNDS; k++) {
        now += tf;
        if (!(await round(k === 1 ? 'steady' : `steady ${k}`, (k + 1) * WATCHERS))) break;
      }
      printFloor(await floorRound(), backfillPerSecond);
    }
  } finally {
    census.stop();
    await Promise.all(others.map((c) => c.stop(40_000)));
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
