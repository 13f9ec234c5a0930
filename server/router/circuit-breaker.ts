/**
 * Per-provider circuit breaker, so a dead provider costs no latency: after
 * `failureThreshold` consecutive failures, or more than `failureRatio` of the
 * calls in the last `windowMs` failing (once there are `minCalls`), the
 * provider is skipped for `cooldownMs`. Then one probe is let through
 * (half-open): success closes the breaker, failure opens it again.
 * Defaults follow LiteLLM's cooldown (3 failures, > 50 % in a minute, 5 s).
 * The clock is injectable for tests.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failureThreshold?: number;
  failureRatio?: number;
  minCalls?: number;
  windowMs?: number;
  cooldownMs?: number;
  now?: () => number;
}

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  /** Failures / calls in the window (0 when there were none). */
  failureRatio: number;
  callsInWindow: number;
  /** ms until a probe is allowed, when open. */
  retryInMs?: number;
}

export interface CircuitBreaker {
  /** May a call go out now? In half-open only one probe at a time; every `true` must be followed by success/failure/release. */
  tryAcquire(): boolean;
  success(): void;
  failure(): void;
  /** The acquired call ended without verdict (e.g. the caller aborted): frees the probe slot. */
  release(): void;
  snapshot(): BreakerSnapshot;
}

export function createCircuitBreaker(options: BreakerOptions = {}): CircuitBreaker {
  const threshold = options.failureThreshold ?? 3;
  const ratio = options.failureRatio ?? 0.5;
  const minCalls = options.minCalls ?? 4;
  const windowMs = options.windowMs ?? 60_000;
  const cooldownMs = options.cooldownMs ?? 5_000;
  const now = options.now ?? Date.now;

  let state: 'closed' | 'open' | 'half-open' = 'closed';
  let openedAt = 0;
  let consecutive = 0;
  let probeInFlight = false;
  // The window's calls, oldest first, from `head` on; `failed` counts the failures among them.
  // snapshot() runs for every answer (the router's plan), so pruning and counting are O(1) amortized, not a scan of the window.
  let calls: Array<{ at: number; ok: boolean }> = [];
  let head = 0;
  let failed = 0;

  const prune = () => {
    const since = now() - windowMs;
    while (head < calls.length && calls[head]!.at < since) {
      if (!calls[head]!.ok) failed--;
      head++;
    }
    if (head > 1024 && head * 2 > calls.length) {
      calls = calls.slice(head);
      head = 0;
    }
  };
  const record = (ok: boolean) => {
    calls.push({ at: now(), ok });
    if (!ok) failed++;
    prune();
  };
  const inWindow = () => calls.length - head;
  const open = () => {
    state = 'open';
    openedAt = now();
    probeInFlight = false;
  };
  const cooled = () => now() - openedAt >= cooldownMs;

  return {
    tryAcquire: () => {
      if (state === 'open') {
        if (!cooled()) return false;
        state = 'half-open';
      }
      if (state === 'half-open') {
        if (probeInFlight) return false;
        probeInFlight = true;
      }
      return true;
    },
    success: () => {
      consecutive = 0;
      if (state === 'half-open') {
        // A successful probe starts a fresh record: old failures no longer describe the provider.
        state = 'closed';
        probeInFlight = false;
        calls = [];
        head = 0;
        failed = 0;
      }
      record(true);
    },
    failure: () => {
      consecutive += 1;
      record(false);
      if (state === 'half-open') return open();
      if (consecutive >= threshold || (inWindow() >= minCalls && failed / inWindow() > ratio)) open();
    },
    release: () => {
      probeInFlight = false;
    },
    snapshot: () => {
      prune();
      const reported: BreakerState = state === 'open' && cooled() ? 'half-open' : state;
      return {
        state: reported,
        consecutiveFailures: consecutive,
        failureRatio: inWindow() === 0 ? 0 : failed / inWindow(),
        callsInWindow: inWindow(),
        ...(state === 'open' && !cooled() ? { retryInMs: cooldownMs - (now() - openedAt) } : {}),
      };
    },
  };
}
