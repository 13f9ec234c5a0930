import type pg from 'pg';
import type { Logger } from '../../common/logger';
import { createPgListener, type PgListener } from '../../common/pg-listener';

/** The channel the ledger's balance trigger notifies (sql/chat/0019), payload `{"user":…,"balance":…}`. */
export const BALANCE_CHANNEL = 'zmarty_balance';

export interface BalancePushOptions {
  /** Connection settings of the chat database (LISTEN takes a connection of its own). */
  connection: pg.ClientConfig;
  log: Logger;
  /** Sends the balance to the user's sockets on this instance only: every instance hears every change. */
  emit(userId: string, balance: number): void;
  reconnectDelayMs?: number;
  pingIntervalMs?: number;
}

/**
 * Pushes each committed balance change (all but reservations: settlements,
 * extensions, grants, purchases, refunds) to the user's sockets, from the
 * database's own notification rather than from the code path that made the
 * change, so no writer can forget it and none pays a round trip for it.
 * A balance is state, not an event: one missed while the LISTEN connection
 * was down is made good by the next change or the next `chat:done`.
 */
export function createBalancePush(options: BalancePushOptions): PgListener {
  const { log } = options;
  return createPgListener({
    connection: options.connection,
    channel: BALANCE_CHANNEL,
    name: 'zmarty-balance-push',
    log,
    reconnectDelayMs: options.reconnectDelayMs ?? 250,
    pingIntervalMs: options.pingIntervalMs ?? 15_000,
    onNotification(payload) {
      let parsed: { user?: unknown; balance?: unknown };
      try {
        parsed = JSON.parse(payload) as typeof parsed;
      } catch {
        log.warn({ payload: payload.slice(0, 200) }, 'balance push: unreadable notification');
        return;
      }
      const { user, balance } = parsed;
      if (typeof user !== 'string' || typeof balance !== 'number' || !Number.isSafeInteger(balance)) {
        log.warn({ payload: payload.slice(0, 200) }, 'balance push: unexpected notification');
        return;
      }
      options.emit(user, balance);
    },
  });
}
