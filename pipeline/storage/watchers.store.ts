import type { Queryable } from '../../common/db';
import type { Timeframe } from '../../common/symbols';
import type { WatchKey } from '../domain';

/** The `watchers` table, maintained by the watchers sync (webhook); the pipeline only reads it. */
export const watcherStore = {
  /** Every watcher with at least one subscriber. */
  active: async (q: Queryable): Promise<WatchKey[]> =>
    (
      await q.query<{ symbol: string; timeframe: Timeframe }>(
        'select symbol, timeframe from public.watchers where active order by symbol, timeframe',
      )
    ).rows,
};
