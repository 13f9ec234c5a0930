import type { Queryable } from '../../common/db';
import type { EdgeFacts } from '../../common/edge';
import { watchKeyId, type Candle, type DoublingDecision, type SignalDecision, type WatchKey } from '../domain';
import type { EdgeInput } from '../track-record/track-record';
import { analysisStore, type Analysis, type SignalInputs } from './analysis.store';
import { createBatcher } from './batcher';
import { candleStore, type StoreRequest, type StoredBatch } from './candles.store';
import { signalStore } from './signals.store';
import { trackRecordStore } from './track-record.store';

/**
 * The hot path's database calls, per watcher. Jobs call these one watcher at
 * a time whichever implementation they get: `directStores` sends each call as
 * its own statement; `batchedStores` coalesces the calls that concurrently
 * running jobs make into one set-based statement each.
 */
export interface PipelineStores {
  latestOpenTime(key: WatchKey): Promise<number | null>;
  storeAndReadBack(request: StoreRequest): Promise<StoredBatch>;
  window(key: WatchKey, upTo: number, limit: number): Promise<Candle[]>;
  saveAnalysis(key: WatchKey, candleTime: number, analysis: Analysis): Promise<void>;
  hasHistory(key: WatchKey): Promise<boolean>;
  allWindowEdge(key: WatchKey): Promise<EdgeInput | null>;
  loadSignalInputs(key: WatchKey, lookback: number, openForMs: number): Promise<SignalInputs | null>;
  insertSignal(key: WatchKey, candleTime: number, decision: SignalDecision, doubling: DoublingDecision | null, edge: EdgeFacts | null): Promise<number | null>;
}

/** One statement per call: the reference behaviour, and what tests and tools use. */
export function directStores(q: Queryable): PipelineStores {
  return {
    latestOpenTime: (key) => candleStore.latestOpenTime(q, key),
    storeAndReadBack: (r) => candleStore.storeAndReadBack(q, r.key, r.source, r.candles, r.newest, r.beforeLimit, r.cached),
    window: (key, upTo, limit) => candleStore.window(q, key, upTo, limit),
    saveAnalysis: (key, candleTime, analysis) => analysisStore.save(q, key, candleTime, analysis),
    hasHistory: (key) => trackRecordStore.hasHistory(q, key),
    allWindowEdge: (key) => trackRecordStore.allWindowEdge(q, key),
    loadSignalInputs: (key, lookback, openForMs) => analysisStore.loadSignalInputs(q, key, lookback, openForMs),
    insertSignal: (key, candleTime, decision, doubling, edge) => signalStore.insert(q, key, candleTime, decision, doubling, edge),
  };
}


/**
 * The same calls, coalesced across the jobs running at once in this process
 * (a pg-boss batch, and the other batches of `localConcurrency`): one round
 * trip and one commit for many watchers instead of one each. A failing
 * statement is retried per watcher, so one bad symbol fails only its own job.
 * `maxBatchSize` bounds a statement (first ingests carry thousands of candles each).
 */
export function batchedStores(q: Queryable, options: { maxBatchSize?: number } = {}): PipelineStores {
  const direct = directStores(q);
  const max = options.maxBatchSize ?? 100;
  const latest = createBatcher<WatchKey, number | null>({
    many: (keys) => candleStore.latestOpenTimeMany(q, keys),
    one: direct.latestOpenTime,
    maxBatchSize: max,
  });
  const store = createBatcher<StoreRequest, StoredBatch>({
    many: (items) => candleStore.storeAndReadBackMany(q, items),
    one: direct.storeAndReadBack,
    // Each watcher's reads must not run beside another insert of its own candles.
    conflictKey: (r) => watchKeyId(r.key),
    maxBatchSize: max,
  });
  const window = createBatcher<{ key: WatchKey; upTo: number; limit: number }, Candle[]>({
    many: (items) => candleStore.windowMany(q, items),
    one: (it) => direct.window(it.key, it.upTo, it.limit),
    maxBatchSize: max,
  });
  const save = createBatcher<{ key: WatchKey; candleTime: number; analysis: Analysis }, void>({
    many: async (items) => {
      await analysisStore.saveMany(q, items);
      return items.map(() => undefined);
    },
    one: (it) => direct.saveAnalysis(it.key, it.candleTime, it.analysis),
    conflictKey: (it) => `${watchKeyId(it.key)}|${it.candleTime}`,
    maxBatchSize: max,
  });
  const hasHistory = createBatcher<WatchKey, boolean>({
    many: (keys) => trackRecordStore.hasHistoryMany(q, keys),
    one: direct.hasHistory,
    maxBatchSize: max,
  });
  const edge = createBatcher<WatchKey, EdgeInput | null>({
    many: (keys) => trackRecordStore.allWindowEdgeMany(q, keys),
    one: direct.allWindowEdge,
    maxBatchSize: max,
  });
  const inputs = createBatcher<{ key: WatchKey; lookback: number; openForMs: number }, SignalInputs | null>({
    many: (items) => analysisStore.loadSignalInputsMany(q, items),
    one: (it) => direct.loadSignalInputs(it.key, it.lookback, it.openForMs),
    maxBatchSize: max,
  });
  type SignalRow = { key: WatchKey; candleTime: number; decision: SignalDecision; doubling: DoublingDecision | null; edge: EdgeFacts | null };
  const insert = createBatcher<SignalRow, number | null>({
    many: (items) => signalStore.insertMany(q, items),
    one: (it) => direct.insertSignal(it.key, it.candleTime, it.decision, it.doubling, it.edge),
    conflictKey: (it) => `${watchKeyId(it.key)}|${it.candleTime}`,
    maxBatchSize: max,
  });
  return {
    latestOpenTime: latest,
    storeAndReadBack: store,
    window: (key, upTo, limit) => window({ key, upTo, limit }),
    saveAnalysis: (key, candleTime, analysis) => save({ key, candleTime, analysis }),
    hasHistory,
    allWindowEdge: edge,
    loadSignalInputs: (key, lookback, openForMs) => inputs({ key, lookback, openForMs }),
    insertSignal: (key, candleTime, decision, doubling, e) => insert({ key, candleTime, decision, doubling, edge: e }),
  };
}
