import type { Db } from '../../common/db';
import type { Logger } from '../../common/logger';
import { TIMEFRAME_MS } from '../../common/symbols';
import type { SignalOutcome, WatchKey, WinRateRollup } from '../domain';
import { candleStore } from '../storage/candles.store';
import { winRateStore } from '../storage/winrate.store';
import { evaluateSignal, rollupWinRate } from '../winrate/evaluate';

export interface WinRateDeps {
  db: Db;
  log: Logger;
  now: () => number;
  horizonCandles: number;
  feePct: number;
  /** Most signals evaluated per job; the rest wait for the next run. */
  maxSignals?: number;
}

const WINDOWS: ReadonlyArray<{ name: WinRateRollup['window']; ms: number | null }> = [
  { name: '7d', ms: 7 * 86_400_000 },
  { name: '30d', ms: 30 * 86_400_000 },
  { name: 'all', ms: null },
];

/**
 * compute_winrate: settle the open long/short signals that the candles since
 * have decided (take-profit, stop, or the horizon passed), then recompute the
 * 7d/30d/all rollups beside buy-and-hold over the same span. Outcomes are
 * insert-once and rollups upserts, so a rerun only refreshes the numbers.
 */
export async function runWinRate(deps: WinRateDeps, key: WatchKey): Promise<Record<string, unknown>> {
  const { db, log } = deps;
  const tf = TIMEFRAME_MS[key.timeframe];
  const latest = await candleStore.latestOpenTime(db.pool, key);
  if (latest === null) return { outcome: 'no_candles' };

  const pending = await winRateStore.unevaluated(db.pool, key, latest, deps.maxSignals ?? 200);
  const settled: Array<SignalOutcome & { signalId: number }> = [];
  if (pending.length) {
    // One read covers every pending signal's horizon.
    const oldest = pending[0]!.candleTime;
    const span = Math.ceil((pending.at(-1)!.candleTime - oldest) / tf) + deps.horizonCandles + 1;
    const candles = await candleStore.after(db.pool, key, oldest, Math.min(span, 10_000));
    for (const signal of pending) {
      const after = candles.filter((c) => c.openTime > signal.candleTime).slice(0, deps.horizonCandles);
      try {
        const outcome = evaluateSignal(signal, after, { horizonCandles: deps.horizonCandles, feePct: deps.feePct });
        if (outcome) settled.push({ ...outcome, signalId: signal.id });
      } catch (err) {
        // A stored signal the evaluator rejects would fail every run; skip it rather than dead-letter the watcher.
        log.warn({ signalId: signal.id, ...key, err: err instanceof Error ? err.message : String(err) }, 'signal cannot be evaluated');
      }
    }
  }
  const stored = await winRateStore.insertOutcomes(db.pool, settled);

  const now = deps.now();
  const outcomes = await winRateStore.outcomes(db.pool, key);
  const rollups: WinRateRollup[] = [];
  for (const w of WINDOWS) {
    const from = w.ms === null ? (outcomes[0]?.candleTime ?? now) : now - w.ms;
    const span = await candleStore.span(db.pool, key, from);
    rollups.push(rollupWinRate(outcomes, w.name, now, span ? { startPrice: span.first.open, endPrice: span.last.close } : null));
  }
  await db.tx(async (tx) => {
    for (const r of rollups) await winRateStore.upsertRollup(tx, key, r);
  });
  const all = rollups.find((r) => r.window === 'all');
  return { pending: pending.length, evaluated: stored, trades: all?.trades ?? 0, winPct: all?.winPct ?? null, outcome: 'rolled_up' };
}
