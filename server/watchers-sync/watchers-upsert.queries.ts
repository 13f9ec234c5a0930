import type { Queryable } from '../../common/db';
import type { Subscription, WatcherKey } from './watchers-sync.logic';

// Namespace of the per-source advisory lock (two-int4 form: a key space of its
// own, disjoint from single-bigint advisory locks such as pg-boss's).
const SOURCE_LOCK_NAMESPACE = 0x77617463; // 'watc'

export interface WatcherCount extends WatcherKey {
  subscribers: number;
  active: boolean;
}

/** Every function runs inside one trading-database transaction (see watchers-upsert.handler.ts). */
export const watchersUpsertQueries = {
  /** True the first time an event id is seen; false for a replay. Rolled back with the transaction on failure, so a retry is not mistaken for a replay. */
  claimEvent: async (q: Queryable, eventId: string) =>
    ((await q.query(`insert into public.webhook_events (event_id) values ($1) on conflict (event_id) do nothing`, [eventId])).rowCount ?? 0) > 0,

  /**
   * Serialises events of one chat row. Without it, two events for a row not
   * yet stored would both read "no subscription" and each recount only its
   * own watcher. Ids beyond 2^31 share keys, which only costs some waiting.
   */
  lockSource: async (q: Queryable, sourceId: number) => {
    await q.query(`select pg_advisory_xact_lock($1, ($2::bigint % 2147483647)::int)`, [SOURCE_LOCK_NAMESPACE, sourceId]);
  },

  storedSubscription: async (q: Queryable, sourceId: number): Promise<Subscription | null> =>
    (
      await q.query<Subscription>(
        `select user_id as "userId", symbol, timeframe from public.watcher_subscriptions where source_id = $1`,
        [sourceId],
      )
    ).rows[0] ?? null,

  /**
   * Creates the watcher if needed and locks its row; returns the count before
   * this event. The no-op DO UPDATE is what takes the row lock on an existing
   * watcher, so concurrent events on one watcher recount one after the other
   * (each recount then sees the other's committed subscription).
   */
  lockWatcher: async (q: Queryable, key: WatcherKey) => {
    const { rows } = await q.query<{ subscribers: number }>(
      `insert into public.watchers (symbol, timeframe) values ($1, $2)
       on conflict (symbol, timeframe) do update set symbol = excluded.symbol
       returning subscribers`,
      [key.symbol, key.timeframe],
    );
    return rows[0]!.subscribers;
  },

  upsertSubscription: async (q: Queryable, sourceId: number, s: Subscription) => {
    await q.query(
      `insert into public.watcher_subscriptions (source_id, user_id, symbol, timeframe) values ($1, $2, $3, $4)
       on conflict (source_id) do update
         set user_id = excluded.user_id, symbol = excluded.symbol, timeframe = excluded.timeframe, updated_at = now()
         where (watcher_subscriptions.user_id, watcher_subscriptions.symbol, watcher_subscriptions.timeframe)
           is distinct from (excluded.user_id, excluded.symbol, excluded.timeframe)`,
      [sourceId, s.userId, s.symbol, s.timeframe],
    );
  },

  deleteSubscription: async (q: Queryable, sourceId: number) => {
    await q.query(`delete from public.watcher_subscriptions where source_id = $1`, [sourceId]);
  },

  /** Sets the count to what watcher_subscriptions says: recomputed, never incremented, so it cannot drift. */
  recountWatcher: async (q: Queryable, key: WatcherKey): Promise<WatcherCount> => {
    const { rows } = await q.query<WatcherCount>(
      `with n as (
         select count(*)::int as subscribers from public.watcher_subscriptions where symbol = $1 and timeframe = $2
       )
       update public.watchers w
          set subscribers = n.subscribers,
              updated_at = case when w.subscribers = n.subscribers then w.updated_at else now() end
         from n
        where w.symbol = $1 and w.timeframe = $2
       returning w.symbol, w.timeframe, w.subscribers, w.active`,
      [key.symbol, key.timeframe],
    );
    return rows[0]!;
  },
};
