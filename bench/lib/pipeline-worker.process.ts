/**
 * Child process of bench/pipeline.ts (BENCH_WORKER_PROCESSES > 1): one more
 * worker, exactly as a second `worker:` process of the Procfile would run,
 * against the same database, with the bench's clock and the same simulated
 * market. Its job log lines and CPU time are handed to the parent per round.
 */
import pino from 'pino';
import type { PipelineConfig } from '../../pipeline/config';
import { startPipeline, type RunningPipeline } from '../../pipeline/main';
import { createSimulatedMarket } from '../../pipeline/market/simulated';
import { serveChild } from './child';

let now = 0;
let pipeline: RunningPipeline | undefined;
let lines: string[] = [];
let cpuAtReset = process.cpuUsage();

serveChild({
  async start(payload: { config: PipelineConfig; now: number }) {
    now = payload.now;
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    pipeline = await startPipeline({
      config: payload.config,
      log,
      now: () => now,
      market: createSimulatedMarket({ now: () => now }),
      schedules: false,
      catchUpOnStart: false,
    });
    return { pid: process.pid };
  },
  setNow(payload: { now: number }) {
    now = payload.now;
  },
  reset() {
    lines = [];
    cpuAtReset = process.cpuUsage();
  },
  /** The round so far: this process's CPU microseconds and its job log lines. */
  collect() {
    const cpu = process.cpuUsage(cpuAtReset);
    return { cpuMicros: cpu.user + cpu.system, lines };
  },
  async close() {
    await pipeline?.stop();
  },
});
