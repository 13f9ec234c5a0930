import type { Db } from '../../common/db';
import type { Logger } from '../../common/logger';
import { createPgListener } from '../../common/pg-listener';
import type { WatchKey } from '../domain';
import { watchJobSchema } from './queues';

/** The channel the `watchers` trigger (sql/trading/0003) notifies when a watcher becomes active. */
export const WATCHER_CHANNEL = 'zmarty_watcher_active';

export interface WatcherListener {
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * LISTENs for watchers that just became active and hands each to `onActive`
 * (which enqueues its ingest), so a new watcher is analysed within seconds
 * instead of at the next INGEST_CRON tick. On reconnect, `onReconnect` runs
 * so the caller can catch up on what it missed while the connection was down.
 * Every worker process listens; the ingest queue's singleton key collapses
 * the duplicate sends.
 */
export function listenForActiveWatchers(deps: {
  db: Db;
  log: Logger;
  onActive(key: WatchKey): Promise<unknown>;
  onReconnect(): Promise<unknown>;
  reconnectDelayMs?: number;
}): WatcherListener {
  const { log } = deps;
  return createPgListener({
    connection: deps.db.pool.options,
    channel: WATCHER_CHANNEL,
    name: 'zmarty-watcher-listener',
    log,
    reconnectDelayMs: deps.reconnectDelayMs,
    onNotification(payload) {
      let key: WatchKey;
      try {
        key = watchJobSchema.parse(JSON.parse(payload));
      } catch {
        log.warn({ payload }, 'ignoring malformed watcher notification');
        return;
      }
      deps.onActive(key).catch((err: Error) => log.error({ err: err.message, ...key }, 'enqueueing ingest for a new watcher failed'));
    },
    // Watchers activated while nobody listened are caught up by the caller; not awaited, so LISTEN is up at once.
    async onConnected(_client, { first }) {
      if (!first) void deps.onReconnect().catch((err: Error) => log.error({ err: err.message }, 'watcher catch-up after reconnect failed'));
    },
  });
}
