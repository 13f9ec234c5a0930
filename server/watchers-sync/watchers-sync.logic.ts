import type { WatchersWebhookPayload } from './watchers-upsert.schema';

/** A subscription as the trading database stores it (watcher_subscriptions). */
export interface Subscription {
  userId: string;
  symbol: string;
  timeframe: string;
}

export interface WatcherKey {
  symbol: string;
  timeframe: string;
}

/**
 * The state of one chat row after the event: its subscription, or null when
 * the row is gone. The event carries the whole new row, so applying it is
 * setting state, not adding to a count, which is what makes a replay harmless.
 */
export function subscriptionAfter(payload: WatchersWebhookPayload): { sourceId: number; next: Subscription | null } {
  if (payload.type === 'DELETE') return { sourceId: payload.old_record.id, next: null };
  const { id, user_id, symbol, timeframe } = payload.record;
  return { sourceId: id, next: { userId: user_id, symbol, timeframe } };
}

/**
 * The watchers whose count may change: where the subscription was and where
 * it is now, deduplicated and sorted. Locking them in this one global order
 * is what keeps two concurrent moves (A→B and B→A) from deadlocking.
 */
export function affectedWatchers(stored: Subscription | null, next: Subscription | null): WatcherKey[] {
  const keys = new Map<string, WatcherKey>();
  for (const s of [stored, next]) {
    if (s) keys.set(`${s.symbol}\u0000${s.timeframe}`, { symbol: s.symbol, timeframe: s.timeframe });
  }
  return [...keys.values()].sort((a, b) => compare(a.symbol, b.symbol) || compare(a.timeframe, b.timeframe));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The x-webhook-timestamp header as unix milliseconds, or null when it is missing or not a plain integer. */
export function parseTimestampHeader(header: string | null): number | null {
  return header !== null && /^\d{1,16}$/.test(header) ? Number(header) : null;
}

export type TimestampAge = 'ok' | 'too_old' | 'too_new';

/** Within ±toleranceMs of now. The future bound matters too: a far-future timestamp would stretch the replay window. */
export function checkTimestampAge(timestampMs: number, nowMs: number, toleranceMs: number): TimestampAge {
  if (nowMs - timestampMs > toleranceMs) return 'too_old';
  if (timestampMs - nowMs > toleranceMs) return 'too_new';
  return 'ok';
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000, factor: 2 };

/** Delay before retry number `attempt` (1 = first retry): initial·factor^(attempt-1), capped. */
export function backoffDelay(attempt: number, { initialMs, maxMs, factor }: BackoffOptions): number {
  const exponent = Math.max(0, attempt - 1);
  return Math.min(maxMs, initialMs * factor ** exponent);
}
