import pg from 'pg';
import type { Db } from '../../common/db';
import type { Logger } from '../../common/logger';
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
  const { db, log } = deps;
  const baseDelay = deps.reconnectDelayMs ?? 500;
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let attempt = 0;

  function onNotification(msg: pg.Notification) {
    if (msg.channel !== WATCHER_CHANNEL || !msg.payload) return;
    let key: WatchKey;
    try {
      key = watchJobSchema.parse(JSON.parse(msg.payload));
    } catch {
      log.warn({ payload: msg.payload }, 'ignoring malformed watcher notification');
      return;
    }
    deps.onActive(key).catch((err: Error) => log.error({ err: err.message, ...key }, 'enqueueing ingest for a new watcher failed'));
  }

  async function connect(): Promise<void> {
    const next = new pg.Client({ ...db.pool.options, keepAlive: true, application_name: 'zmarty-watcher-listener' });
    next.on('notification', onNotification);
    next.on('error', (err) => dropped(next, err));
    next.on('end', () => dropped(next, new Error('connection ended')));
    try {
      await next.connect();
      await next.query(`listen ${WATCHER_CHANNEL}`);
    } catch (err) {
      await next.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    attempt = 0;
  }

  function dropped(which: pg.Client, err: Error) {
    if (closed || client !== which) return;
    client = undefined;
    which.end().catch(() => undefined);
    log.warn({ err: err.message }, 'watcher listener lost its connection, reconnecting');
    schedule();
  }

  function schedule() {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      connect().then(
        () => deps.onReconnect().catch((err: Error) => log.error({ err: err.message }, 'watcher catch-up after reconnect failed')),
        (err: Error) => {
          log.warn({ err: err.message, attempt }, 'watcher listener reconnect failed');
          schedule();
        },
      );
    }, Math.min(10_000, baseDelay * 2 ** attempt++));
  }

  const ready = connect();
  return {
    ready,
    async close() {
      closed = true;
      clearTimeout(timer);
      await ready.catch(() => undefined);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
