import type pg from 'pg';
import type { Logger } from '../../common/logger';
import { createPgListener, type PgListener } from '../../common/pg-listener';
import type { Tiers } from './tiers';

/** The channel the tier triggers notify (sql/chat/0020): a user's id, or `*` when the tier table itself changed. */
export const TIER_CHANNEL = 'zmarty_tier';

export interface TierChangesOptions {
  /** Connection settings of the chat database (LISTEN takes a connection of its own). */
  connection: pg.ClientConfig;
  log: Logger;
  tiers: Pick<Tiers, 'invalidate'>;
  reconnectDelayMs?: number;
  pingIntervalMs?: number;
}

/**
 * Drops a cached tier as soon as the database announces its change, so an
 * instance can keep tiers for long (TIER_CACHE_MS) and an answer after a
 * quiet spell need not read the tier first. Whatever changed while the LISTEN
 * connection was down is unknown, so every (re)connection clears the cache.
 */
export function createTierChanges(options: TierChangesOptions): PgListener {
  const { tiers } = options;
  return createPgListener({
    connection: options.connection,
    channel: TIER_CHANNEL,
    name: 'zmarty-tier-changes',
    log: options.log,
    reconnectDelayMs: options.reconnectDelayMs ?? 250,
    pingIntervalMs: options.pingIntervalMs ?? 15_000,
    onNotification: (payload) => tiers.invalidate(payload === '*' ? undefined : payload),
    onConnected: async () => tiers.invalidate(),
  });
}
