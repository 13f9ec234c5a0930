import type { Queryable } from '../../common/db';
import { describeEdge, type EdgeFacts } from '../../common/edge';
import { TIMEFRAME_MS } from '../../common/symbols';
import { EDGE_MIN_TRADES } from '../backtest/coin-flip';
import type { DoublingDecision, SignalDecision, WatchKey } from '../domain';
import { evaluateDoubling, type DoublingConfig } from '../signals/guardrails';
import { decideSignal } from '../signals/strategy';
import { directStores, type PipelineStores } from '../storage/stores';
import { trackRecordStore } from '../storage/track-record.store';
import { edgeFactsOf } from '../track-record/track-record';

export interface SignalDeps {
  sql: Queryable;
  /** The position a recommendation stands for, % of equity (doubled once a doubling is recommended). */
  positionPct: number;
  doubling: DoublingConfig;
  /** A recommendation stays open this many candles at most (the track record's horizon). */
  horizonCandles: number;
  /** SIGNAL_PUBLISH: 'edge' withholds calls where the measured edge is not positive (see withheld()); 'all' publishes every call. */
  publish?: SignalPublish;
  /** The database calls (default: one statement each, on `sql`; the worker coalesces them across jobs, see batchedStores). */
  stores?: PipelineStores;
}

export type SignalPublish = 'edge' | 'all';

/**
 * Publish fewer signals where the strategy has shown no edge: with 'edge', a
 * call on a pair and timeframe whose track record holds at least
 * EDGE_MIN_TRADES independent trades and has not beaten chance (verdict none
 * or negative) is stored FLAT, with the call it replaces and the edge in its
 * reasons. Fewer trades than that are too few to judge either way, so the
 * call is published, with its edge sentence as always.
 */
export function withheld(decision: SignalDecision, edge: EdgeFacts | null, key: WatchKey): SignalDecision | null {
  if (decision.direction === 'flat' || !edge || edge.verdict === 'positive' || edge.trades < EDGE_MIN_TRADES) return null;
  return {
    ...decision,
    direction: 'flat',
    score: 0,
    stop: null,
    takeProfit: null,
    reasons: [
      ...decision.reasons,
      {
        indicator: 'edge',
        vote: 'neutral',
        weight: 0,
        detail: `withheld: the strategy called ${decision.direction} (agreement ${decision.vote}), not published because ${describeEdge(key.symbol, key.timeframe, edge)}`,
      },
    ],
  };
}

/**
 * Candles handed to the strategy. decideSignal reads only the newest candle
 * (its close is the entry: strategy.ts, `input.candles.at(-1)`) and the
 * stored indicators, which were computed over the full lookback at ingest.
 * Each candle read back is built into JSON by the database and parsed here:
 * 50 of them were ~0.5 ms of the database's time per signal (EXPLAIN ANALYZE
 * of loadSignalInputsMany) for 49 nobody read. Raise this if the strategy
 * ever reads more than the newest.
 */
export const STRATEGY_CANDLES = 1;

/** Above the largest catch-up an ingest can analyse (CANDLE_LOOKBACK ≤ 1000). */
const MAX_SIGNALS_PER_JOB = 1000;

/**
 * compute_signals: signal every analysed candle after the watcher's newest
 * signal, oldest first, up to the one the ingest named (or a newer one that
 * landed since). In order, because each signal's guardrails compare it with
 * the open recommendation before it; after an outage the ingest analysed
 * each missed candle, and each gets its signal here. One read and one
 * idempotent insert per candle; a retried or duplicated job never adds a row.
 */
export async function runSignal(deps: SignalDeps, key: WatchKey & { candleTime: number }): Promise<Record<string, unknown>> {
  let inserted = 0;
  let last: Record<string, unknown> = {};
  const tf = TIMEFRAME_MS[key.timeframe];
  const stores = deps.stores ?? directStores(deps.sql);
  // The pair's edge as measured now (its `all` track record), carried by every signal this job makes.
  const edge = edgeFactsOf(await stores.allWindowEdge(key), key.timeframe, tf);
  // Bounded by the ingest's catch-up; the cap only guards against a loop that makes no progress.
  for (let step = 0; step < MAX_SIGNALS_PER_JOB; step++) {
    const inputs = await stores.loadSignalInputs(key, STRATEGY_CANDLES, deps.horizonCandles * tf);
    if (!inputs || (inputs.signalled && inputs.candleTime < key.candleTime)) {
      throw new Error(`no analysis stored for ${key.symbol} ${key.timeframe} at ${key.candleTime}`);
    }
    const { candleTime, previous } = inputs;
    if (inputs.signalled) return { ...last, candleTime, signals: inserted, outcome: inserted ? 'inserted' : 'exists' };

    const call = decideSignal({ candles: inputs.candles, indicators: inputs.indicators, risk: inputs.risk, clusters: inputs.clusters, timeframe: key.timeframe });
    const held = deps.publish === 'edge' ? withheld(call, edge, key) : null;
    // The track record keeps measuring the strategy's own call (history_decisions wins over the
    // published signal there), so a pair whose edge turns positive is published again.
    if (held) await trackRecordStore.saveHistory(deps.sql, key, [{ candleTime, decision: call }]);
    const decision = held ?? call;
    let doubling: DoublingDecision | null = null;
    if (previous && decision.direction !== 'flat') {
      // Both sides on the market clock (candle times): created_at is wall-clock and would make a
      // backfill or a late retry look like no time had passed.
      doubling = evaluateDoubling({
        previous: { direction: previous.direction, score: previous.score, createdAt: previous.candleTime },
        next: { direction: decision.direction, score: decision.score, createdAt: candleTime },
        risk: inputs.risk,
        positionPct: previous.positionPct ?? deps.positionPct,
        timeframeMs: tf,
        config: deps.doubling,
      });
    }
    const id = await stores.insertSignal(key, candleTime, decision, doubling, edge);
    if (id !== null) inserted++;
    last = { signalId: id, direction: decision.direction, score: decision.score, doubling: doubling?.recommended ?? null, ...(held ? { withheld: call.direction } : {}) };
    if (candleTime >= key.candleTime) return { ...last, candleTime, signals: inserted, outcome: id === null ? 'exists' : 'inserted' };
  }
  throw new Error(`more than ${MAX_SIGNALS_PER_JOB} candles of ${key.symbol} ${key.timeframe} waiting for a signal`);
}
