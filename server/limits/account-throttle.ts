import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { consumeOrRefuse } from './refusal';

/**
 * Slows password guessing against one account from any number of addresses,
 * without letting a stranger lock the owner out:
 * - the first `free` attempts per account pass;
 * - after that, one attempt per gate opening: each admitted attempt closes the
 *   gate for 2^n seconds (n = attempts admitted through it so far: 1, 2, 4 …),
 *   capped at `maxDelaySeconds`; anything else meanwhile, the right password
 *   included, is refused with 429 + Retry-After;
 * - a correct password resets all of it, and addresses the owner signed in
 *   from skip the delay (the per-address limit still bounds guessing there),
 *   so a stranger elsewhere cannot keep the owner out at all.
 * Counting happens before the password is checked, so concurrent guesses on
 * several instances cannot all slip through one open gate.
 */
export interface AccountThrottle {
  /** Throws rate_limited while the account must wait. Call before checking the password. */
  admit(account: string, address: string): Promise<void>;
  /** The password was right: forget the attempts, remember the address. */
  succeeded(account: string, address: string): Promise<void>;
}

export interface AccountThrottleDeps {
  free: RateLimiterAbstract;
  /** One point per opening; its duration is set per opening. */
  gate: RateLimiterAbstract;
  /** Counts the attempts admitted through the gate (the exponent). */
  delays: RateLimiterAbstract;
  known: RateLimiterAbstract;
  maxDelaySeconds: number;
}

export function createAccountThrottle(deps: AccountThrottleDeps): AccountThrottle {
  const knownKey = (account: string, address: string) => `${account}|${address}`;
  return {
    async admit(account, address) {
      if (await deps.known.get(knownKey(account, address))) return;
      const free = await deps.free.consume(account).then(
        () => true,
        (res: unknown) => {
          if (res instanceof RateLimiterRes) return false;
          throw res;
        },
      );
      if (free) return;
      const admitted = (await deps.delays.get(account))?.consumedPoints ?? 0;
      const delaySeconds = Math.min(2 ** admitted, deps.maxDelaySeconds);
      // One upsert: of concurrent attempts only the one that opens the row gets through.
      await consumeOrRefuse(deps.gate, account, { customDuration: delaySeconds });
      await deps.delays.penalty(account);
    },
    async succeeded(account, address) {
      await Promise.all([
        deps.free.delete(account),
        deps.gate.delete(account),
        deps.delays.delete(account),
        deps.known.set(knownKey(account, address), 1, deps.known.duration),
      ]);
    },
  };
}
