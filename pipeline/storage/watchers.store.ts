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

  /** Watchers (active or not) with directional signals: the ones a win rate can be computed for. */
  withSignals: async (q: Queryable): Promise<WatchKey[]> =>
    (
      await q.query<{ symbol: string; timeframe: Timeframe }>(
        `select w.symbol, w.timeframe from public.watchers w
         where exists (select 1 from public.signals s
                       where s.symbol = w.symbol and s.timeframe = w.timeframe and s.direction <> 'flat')
         order by w.symbol, w.timeframe`,
      )
    ).rows,
};
