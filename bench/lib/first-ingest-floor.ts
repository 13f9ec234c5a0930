/**
 * The floor of a first ingest, for bench/pipeline.ts: the least work a new
 * watcher needs, on the same cores and database. Per watcher: its
 * CANDLE_LOOKBACK candles from the same simulated market, checked
 * (sanitizeCandles) and analysed (windowIndicators, as the ingest does), and
 * stored as rows of public.candles by one plain INSERT per batch from binary
 * arrays. Batches of WORKER_BATCH_SIZE watchers, WORKER_CONCURRENCY at once,
 * as the worker runs them. Left out: the job queue, the reads, risk, clusters,
 * the signal and every row but the candles. A first ingest cannot be faster
 * than this on the machine, whatever the code around it.
 */
import type pg from 'pg';
import type { Timeframe } from '../../common/symbols';
import { windowIndicators } from '../../pipeline/indicators/indicator-window';
import type { MarketSource } from '../../pipeline/market/market-source';
import { sanitizeCandles } from '../../pipeline/market/validate-candles';
import { int4ArrayParam } from '../../pipeline/storage/binary-array';
import { candleColumns, candleRows } from '../../pipeline/storage/candles.store';
import type { Candle } from '../../pipeline/domain';

export interface FloorOptions {
  /** The trading database's pool (PIPELINE_DB_POOL_MAX connections, as the worker's). */
  pool: pg.Pool;
  market: MarketSource;
  symbols: readonly string[];
  timeframe: Timeframe;
  now: number;
  lookback: number;
  batchSize: number;
  concurrency: number;
}

// The candles as the pipeline sends them (candleColumns' binary arrays, read through candleRows), owned by index.
const INSERT = `insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
  select ($1::text[])[u.i], $9, timestamptz 'epoch' + u.t * interval '1 millisecond', u.o, u.h, u.l, u.c, u.v, $10
  from ${candleRows(3, '$2')}`;

/** Runs the floor over `symbols` (none of them stored yet); resolves with its wall time in seconds. */
export async function runFirstIngestFloor(options: FloorOptions): Promise<number> {
  const { pool } = options;
  const log = { warn: () => undefined };
  const batches: string[][] = [];
  for (let i = 0; i < options.symbols.length; i += options.batchSize) batches.push(options.symbols.slice(i, i + options.batchSize));
  let next = 0;
  let analysed = 0;
  const runBatch = async (symbols: string[]) => {
    const all: Candle[] = [];
    const owner: number[] = [];
    for (let s = 0; s < symbols.length; s++) {
      const symbol = symbols[s]!;
      const raw = await options.market.fetchCandles(symbol, options.timeframe, { limit: options.lookback });
      const candles = sanitizeCandles(raw, { source: options.market.name, symbol, timeframe: options.timeframe, now: options.now, log });
      const values = windowIndicators({ symbol, timeframe: options.timeframe }, candles, options.lookback);
      // A window too short for EMA200 would be a cheaper analysis than the ingest's.
      if (values.ema200 !== null) analysed++;
      for (const c of candles) {
        all.push(c);
        owner.push(s + 1);
      }
    }
    await pool.query(INSERT, [symbols, int4ArrayParam(Int32Array.from(owner)), ...candleColumns(all), options.timeframe, options.market.name]);
  };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (next < batches.length) await runBatch(batches[next++]!);
    }),
  );
  if (analysed !== options.symbols.length) throw new Error(`floor: ${analysed} of ${options.symbols.length} watchers analysed`);
  return (performance.now() - started) / 1000;
}
