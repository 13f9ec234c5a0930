import type { Queryable } from '../../common/db';
import type { Logger } from '../../common/logger';
import { decideSeries } from '../backtest/signal-series';
import type { Candle, WatchKey } from '../domain';
import { INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { directStores, type PipelineStores } from '../storage/stores';
import { trackRecordStore, type HistoryDecision } from '../storage/track-record.store';
import { computeTrackRecords, type TrackRecordSettings } from '../track-record/track-record';

export interface TrackRecordDeps {
  sql: Queryable;
  log: Logger;
  now: () => number;
  settings: TrackRecordSettings;
  /** Candles the live indicators, risk and clusters see (CANDLE_LOOKBACK): the history's decisions see the same. */
  lookback: number;
  /** Candles of history a new watcher's walk-forward covers (TRACK_RECORD_HISTORY_CANDLES). */
  historyCandles: number;
  /** Newest candles the `all` window covers at most. */
  maxCandles?: number;
  /** The hot path's database calls (default: one statement each, on `sql`; see batchedStores). */
  stores?: PipelineStores;
}

/** Hourly candles of more than a year; bounds one job's read and CPU. */
export const TRACK_RECORD_MAX_CANDLES = 10_000;

/**
 * compute_track_record: the 7d / 30d / all rollups of one watcher, walked
 * forward over its stored candles and decisions. One upsert statement, so a
 * reader sees the three windows of one run, and a rerun only refreshes them.
 */
export async function runTrackRecord(deps: TrackRecordDeps, key: WatchKey, series?: readonly Candle[]): Promise<Record<string, unknown>> {
  const max = deps.maxCandles ?? TRACK_RECORD_MAX_CANDLES;
  // `series`: the watcher's whole series, in the caller's hands (ensureHistory's `given`): only the decisions are read.
  const held = series?.slice(-max);
  const { candles, decisions } = held
    ? { candles: held, decisions: await trackRecordStore.decisionsFor(deps.sql, key, held) }
    : await trackRecordStore.load(deps.sql, key, max);
  const records = computeTrackRecords(candles, decisions, deps.settings, deps.now());
  await trackRecordStore.upsert(deps.sql, key, records);
  const all = records.find((r) => r.window === 'all');
  return { windows: records.length, trades: all?.trades ?? 0, edge: all?.edge ?? null, outcome: records.length ? 'rolled_up' : 'no_decisions' };
}

/**
 * A track record from the first minute: the first time a watcher is ingested
 * (its history just loaded), take the strategy's decision at every candle of
 * that history walk-forward (decideSeries: each from the candles up to it,
 * no look-ahead) in one pass, store them, and roll the track record up, all
 * before the newest candle's live signal is computed, so that signal carries
 * its edge. The newest candle is left to the live path. Runs once per
 * watcher: a retry after a crash finds no history stored and does it again;
 * the inserts ignore what an earlier attempt stored. `given`: the series'
 * candles when the caller has just stored all of them (runIngest's
 * `history`), read from the database otherwise.
 */
export async function ensureHistory(deps: TrackRecordDeps, key: WatchKey, given?: readonly Candle[]): Promise<Record<string, unknown> | null> {
  const stores = deps.stores ?? directStores(deps.sql);
  if (deps.historyCandles <= 0 || (await stores.hasHistory(key))) return null;
  let candles: readonly Candle[];
  if (given?.length) candles = given.slice(-deps.historyCandles);
  else {
    const newest = await stores.latestOpenTime(key);
    if (newest === null) return null;
    candles = await stores.window(key, newest, deps.historyCandles);
  }
  // Fewer candles than the indicators' warm-up: no decision can be taken yet (a pair listed days ago).
  if (candles.length <= INDICATOR_WARMUP_CANDLES) return { history: candles.length, decisions: 0 };
  const series = decideSeries(candles, { timeframe: key.timeframe, lookback: deps.lookback });
  const rows: HistoryDecision[] = [];
  for (let i = INDICATOR_WARMUP_CANDLES - 1; i < candles.length - 1; i++) rows.push({ candleTime: candles[i]!.openTime, decision: series[i]! });
  const stored = await trackRecordStore.saveHistory(deps.sql, key, rows);
  // The rollup reads the decisions just stored; the candles it has (~2,000, as JSON) are not read back.
  const rolled = await runTrackRecord(deps, key, given?.length ? given : undefined);
  return { history: candles.length, decisions: stored, trades: rolled.trades, edge: rolled.edge };
}
