/**
 * When the supervisor (`npm start`) restarts a crashed child, and when it
 * gives up. Pure: the supervisor feeds it start and crash times and acts on
 * the decision, so the policy is tested without processes or clocks.
 */
export interface RestartPolicy {
  /** Delay before the first restart; doubled for every further crash in a row. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A child that ran this long before crashing was healthy: its backoff starts over. */
  healthyAfterMs: number;
  /** This many crashes of one child within `windowMs` and the supervisor gives up. */
  maxCrashes: number;
  windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  healthyAfterMs: 30_000,
  maxCrashes: 5,
  windowMs: 60_000,
};

/** One child's crash history. */
export interface CrashHistory {
  /** Crash times inside the current window, oldest first. */
  crashes: number[];
  /** Crashes in a row, each after too short a run to count as healthy. */
  consecutive: number;
}

export const NO_CRASHES: CrashHistory = { crashes: [], consecutive: 0 };

export type RestartDecision =
  | { action: 'restart'; delayMs: number; history: CrashHistory }
  | { action: 'give-up'; crashesInWindow: number; history: CrashHistory };

/** The decision for a child that started at `startedAt` and crashed at `crashedAt`. */
export function decideRestart(history: CrashHistory, startedAt: number, crashedAt: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): RestartDecision {
  const crashes = [...history.crashes.filter((t) => crashedAt - t < policy.windowMs), crashedAt];
  const consecutive = crashedAt - startedAt >= policy.healthyAfterMs ? 1 : history.consecutive + 1;
  const next = { crashes, consecutive };
  if (crashes.length >= policy.maxCrashes) return { action: 'give-up', crashesInWindow: crashes.length, history: next };
  const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (consecutive - 1));
  return { action: 'restart', delayMs, history: next };
}
