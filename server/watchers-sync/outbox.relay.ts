import type pg from 'pg';
import type { Db } from '../../common/db';
import type { Logger } from '../../common/logger';
import type { DeliverEvent, OutboxEvent } from './outbox.deliver';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './watchers-sync.logic';

/** pg_notify channel of the outbox trigger (sql/chat/0004_watchers_outbox.sql). */
export const OUTBOX_CHANNEL = 'watchers_outbox';
// Session advisory lock naming the one relaying instance (the migration
// runner's key, 72_616_173, is the other one we use in the chat database).
const RELAY_LOCK_KEY = 72_616_174;

export interface OutboxRelayOptions {
  /** A connection of this pool is held for as long as the relay runs (LISTEN + the leader lock). */
  chatDb: Pick<Db, 'pool'>;
  deliver: DeliverEvent;
  log: Logger;
  /** Poll fallback (and how soon a standby notices a dead leader) when no notification arrives. */
  pollIntervalMs?: number;
  /** Between failed attempts at the same event, and between reconnects. */
  backoff?: Partial<BackoffOptions>;
  batchSize?: number;
  /** Delivered rows are kept this long for inspection, then deleted. */
  retainDeliveredMs?: number;
}

export interface OutboxRelayStatus {
  connected: boolean;
  leader: boolean;
  delivered: number;
  failedAttempts: number;
  lastError: string | null;
}

export interface OutboxRelay {
  start(): Promise<void>;
  /** Aborts an in-flight delivery (it stays pending and is redelivered later) and releases leadership. */
  stop(): Promise<void>;
  status(): OutboxRelayStatus;
}

/**
 * Delivers public.watchers_outbox rows in id order, one at a time, retrying
 * each with exponential backoff until `deliver` resolves, then marks it
 * delivered. Of several instances only the holder of a session advisory lock
 * relays, so events are never delivered concurrently or out of order; when
 * its connection dies the lock goes with it and a standby takes over.
 *
 * Delivery is at-least-once (a crash between the receiver's 2xx and the
 * "delivered" mark resends the event); the receiver's event-id check makes
 * that exactly-once in effect.
 */
export function createOutboxRelay({
  chatDb,
  deliver,
  log,
  pollIntervalMs = 1000,
  backoff: backoffOverrides,
  batchSize = 100,
  retainDeliveredMs = 7 * 86_400_000,
}: OutboxRelayOptions): OutboxRelay {
  const backoff: BackoffOptions = { ...DEFAULT_BACKOFF, ...backoffOverrides };
  const state: OutboxRelayStatus = { connected: false, leader: false, delivered: 0, failedAttempts: 0, lastError: null };
  let client: pg.PoolClient | null = null;
  let running: Promise<void> | null = null;
  let stopped = true;
  let inFlight: AbortController | null = null;
  let lastPruneAt = 0;

  // Wake-ups: a notification or stop() ends the current wait; one that comes
  // while we are busy is remembered so the next wait returns at once.
  let notified = false;
  let wake: (() => void) | null = null;
  const signal = () => {
    notified = true;
    wake?.();
  };
  function wait(ms: number, { onNotify }: { onNotify: boolean }): Promise<void> {
    if (stopped || (onNotify && notified)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      wake = () => {
        if (stopped || onNotify) done();
      };
    });
  }

  function dropConnection(err?: unknown) {
    if (!client) return;
    const c = client;
    client = null;
    state.connected = false;
    state.leader = false;
    // Destroying the connection is what releases the advisory lock and the LISTEN.
    c.release(err instanceof Error ? err : true);
  }

  async function connect(): Promise<pg.PoolClient> {
    if (client) return client;
    const c = await chatDb.pool.connect();
    c.on('error', (err) => {
      log.warn({ err }, 'outbox relay connection lost');
      if (client === c) dropConnection(err);
    });
    c.on('notification', (msg) => {
      if (msg.channel === OUTBOX_CHANNEL) signal();
    });
    try {
      await c.query(`listen ${OUTBOX_CHANNEL}`);
    } catch (err) {
      c.release(err instanceof Error ? err : true);
      throw err;
    }
    client = c;
    state.connected = true;
    return c;
  }

  async function markFailed(c: pg.PoolClient, row: OutboxEvent, attempts: number, err: unknown) {
    state.failedAttempts++;
    state.lastError = err instanceof Error ? err.message : String(err);
    await c.query(`update public.watchers_outbox set attempts = $2, last_attempt_at = now(), last_error = $3 where id = $1`, [
      row.id,
      attempts,
      state.lastError.slice(0, 1000),
    ]);
  }

  /** Retries one event until it is acknowledged or the relay stops; returns whether it was delivered. */
  async function deliverOne(c: pg.PoolClient, row: OutboxEvent): Promise<boolean> {
    for (let failures = 0; !stopped; ) {
      const attempts = row.attempts + failures + 1;
      inFlight = new AbortController();
      try {
        await deliver({ ...row, attempts: attempts - 1 }, { signal: inFlight.signal });
      } catch (err) {
        if (stopped) return false;
        failures++;
        await markFailed(c, row, attempts, err);
        const delayMs = backoffDelay(failures, backoff);
        log.warn({ err, outboxId: row.id, eventId: row.eventId, attempts, retryInMs: delayMs }, 'watchers event delivery failed');
        await wait(delayMs, { onNotify: false });
        continue;
      } finally {
        inFlight = null;
      }
      await c.query(
        `update public.watchers_outbox set delivered_at = now(), attempts = $2, last_attempt_at = now(), last_error = null where id = $1`,
        [row.id, attempts],
      );
      state.delivered++;
      log.debug({ outboxId: row.id, eventId: row.eventId, attempts }, 'watchers event delivered');
      return true;
    }
    return false;
  }

  async function drain(c: pg.PoolClient) {
    while (!stopped) {
      notified = false;
      const { rows } = await c.query<OutboxEvent>(
        `select id, event_id as "eventId", payload, created_at as "createdAt", attempts
           from public.watchers_outbox where delivered_at is null order by id limit $1`,
        [batchSize],
      );
      if (rows.length === 0) return;
      for (const row of rows) if (!(await deliverOne(c, row))) return;
    }
  }

  async function prune(c: pg.PoolClient) {
    if (Date.now() - lastPruneAt < Math.min(retainDeliveredMs, 600_000)) return;
    lastPruneAt = Date.now();
    await c.query(`delete from public.watchers_outbox where delivered_at < now() - make_interval(secs => $1)`, [retainDeliveredMs / 1000]);
  }

  async function loop() {
    let reconnects = 0;
    while (!stopped) {
      // Reset before looking, so a notification during this round is not lost
      // and a standby does not spin on notifications meant for the leader.
      notified = false;
      try {
        const c = await connect();
        if (!state.leader) {
          const { rows } = await c.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [RELAY_LOCK_KEY]);
          state.leader = rows[0]?.locked === true;
          if (state.leader) log.info('outbox relay is the leader');
        }
        if (state.leader) {
          await drain(c);
          await prune(c);
        }
        reconnects = 0;
        await wait(pollIntervalMs, { onNotify: true });
      } catch (err) {
        if (stopped) break;
        state.lastError = err instanceof Error ? err.message : String(err);
        log.warn({ err }, 'outbox relay error; reconnecting');
        dropConnection(err);
        await wait(backoffDelay(++reconnects, backoff), { onNotify: false });
      }
    }
  }

  return {
    async start() {
      if (running) return;
      stopped = false;
      running = loop().finally(() => {
        dropConnection();
        running = null;
      });
    },
    async stop() {
      stopped = true;
      inFlight?.abort();
      wake?.();
      await running;
    },
    status: () => ({ ...state }),
  };
}
