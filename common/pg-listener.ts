import pg from 'pg';
import type { Logger } from './logger';

export interface PgListenerOptions {
  /** Connection settings, e.g. `db.pool.options`. LISTEN needs a dedicated connection, never a pooled one. */
  connection: pg.ClientConfig;
  channel: string;
  /** application_name of the connection, and the prefix of log lines. */
  name: string;
  log: Logger;
  onNotification(payload: string): void;
  /**
   * Runs on every new connection once LISTEN is in place, before it counts as
   * up: the place to catch up on what was committed while nobody listened
   * (NOTIFY is not queued for absent listeners).
   */
  onConnected?(client: pg.Client, info: { first: boolean }): Promise<void>;
  /** First reconnect delay; doubles up to 10 s. */
  reconnectDelayMs?: number;
  /** A liveness query this often, so a silently dropped connection is noticed (off when absent). */
  pingIntervalMs?: number;
}

export interface PgListener {
  /** Resolves once the first LISTEN is in place (rejects if that first connection fails). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** LISTEN on one channel over a dedicated connection that reconnects with backoff when it drops. */
export function createPgListener(options: PgListenerOptions): PgListener {
  const { log, channel, name } = options;
  const baseDelay = options.reconnectDelayMs ?? 500;
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let attempt = 0;

  async function connect(first: boolean): Promise<void> {
    const next = new pg.Client({ ...options.connection, keepAlive: true, application_name: name });
    next.on('notification', (msg) => {
      if (msg.channel === channel && msg.payload) options.onNotification(msg.payload);
    });
    next.on('error', (err) => dropped(next, err));
    next.on('end', () => dropped(next, new Error('connection ended')));
    try {
      await next.connect();
      await next.query(`listen ${pg.escapeIdentifier(channel)}`);
      await options.onConnected?.(next, { first });
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
    log.warn({ err: err.message }, `${name}: LISTEN connection lost, reconnecting`);
    which.end().catch(() => undefined);
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (closed || timer) return;
    const delay = Math.min(10_000, baseDelay * 2 ** attempt++);
    timer = setTimeout(() => {
      timer = undefined;
      connect(false).catch((err: Error) => {
        log.warn({ err: err.message, attempt }, `${name}: reconnect failed`);
        scheduleReconnect();
      });
    }, delay);
  }

  const ready = connect(true).then(() => {
    if (!options.pingIntervalMs) return;
    pingTimer = setInterval(() => {
      const c = client;
      c?.query('select 1').catch((err: Error) => dropped(c, err));
    }, options.pingIntervalMs);
    pingTimer.unref();
  });
  ready.catch(() => undefined);

  return {
    ready,
    async close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(pingTimer);
      await ready.catch(() => undefined);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
