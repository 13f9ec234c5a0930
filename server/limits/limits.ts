import type pg from 'pg';
import { RateLimiterPostgres, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { createAccountThrottle, type AccountThrottle } from './account-throttle';

/**
 * Every limit that must hold across server instances, kept in one Postgres
 * table (sql/chat/0006_rate_limits.sql) through rate-limiter-flexible. Each
 * consume is one upsert, so concurrent requests on any instance count exactly.
 */
export interface LimitsConfig {
  /** Sign-in attempts per client address and account per window (AUTH_RATE_LIMIT_*). */
  signIn: { attempts: number; windowSeconds: number };
  /** Attempts per account before the exponential delay starts, and its cap (AUTH_ACCOUNT_*). */
  account: { freeAttempts: number; maxDelaySeconds: number };
}

export interface Limits {
  signInPerAddress: RateLimiterAbstract;
  signupsPerAddress: RateLimiterAbstract;
  signInPerAccount: AccountThrottle;
  /**
   * Chat answers started per user per minute, at the limit of the user's tier.
   * Every limit shares one counter per user (same key prefix), so a tier
   * change applies to the current minute's count at once.
   */
  chatPerMinute(perMinute: number): RateLimiterAbstract;
}

const SCHEMA = 'zmarty_private';
const TABLE = 'rate_limits';
/** Per-account counters are forgotten a day after the first attempt. */
const ACCOUNT_LIFETIME_SECONDS = 86_400;
/** An address the owner signed in from skips the per-account delay for this long. */
const KNOWN_ADDRESS_SECONDS = 30 * 86_400;

export function createLimits({ pool, config }: { pool: pg.Pool; config: LimitsConfig }): Limits {
  let cleaner = true;
  const limiter = (keyPrefix: string, points: number, duration: number) => {
    // All limiters share the table, so one of them deleting expired rows every 5 minutes is enough.
    const clearExpiredByTimeout = cleaner;
    cleaner = false;
    return new RateLimiterPostgres({
      storeClient: pool,
      storeType: 'pool',
      schemaName: SCHEMA,
      tableName: TABLE,
      tableCreated: true,
      clearExpiredByTimeout,
      keyPrefix,
      points,
      duration,
    });
  };
  const { signIn, account } = config;
  // One limiter object per distinct limit (a handful: one per tier); they count in the same rows.
  const chatLimiters = new Map<number, RateLimiterAbstract>();
  return {
    signInPerAddress: limiter('signin_address', signIn.attempts, signIn.windowSeconds),
    signupsPerAddress: limiter('signup_address', Math.max(30, signIn.attempts * 3), signIn.windowSeconds),
    signInPerAccount: createAccountThrottle({
      // The attempt that exhausts the free ones goes through the gate and closes it (see account-throttle.ts).
      free: limiter('signin_account_free', account.freeAttempts - 1, ACCOUNT_LIFETIME_SECONDS),
      gate: limiter('signin_account_gate', 1, account.maxDelaySeconds),
      // Only counted (penalty/get), never consumed: its points are irrelevant.
      delays: limiter('signin_account_delays', 1, ACCOUNT_LIFETIME_SECONDS),
      known: limiter('signin_known_address', 1, KNOWN_ADDRESS_SECONDS),
      maxDelaySeconds: account.maxDelaySeconds,
    }),
    chatPerMinute: (perMinute) => {
      let chat = chatLimiters.get(perMinute);
      if (!chat) chatLimiters.set(perMinute, (chat = limiter('chat_minute', perMinute, 60)));
      return chat;
    },
  };
}
