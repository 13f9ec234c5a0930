import { describe, expect, it } from 'vitest';
import { decideRestart, NO_CRASHES, type CrashHistory, type RestartPolicy } from './restart-policy';

const policy: RestartPolicy = { initialDelayMs: 500, maxDelayMs: 4000, healthyAfterMs: 30_000, maxCrashes: 5, windowMs: 60_000 };

/** Runs a child that crashes `runMs` after each start, `times` times; returns the delays and the last decision. */
function crashRepeatedly(runMs: number, times: number, history: CrashHistory = NO_CRASHES, from = 0) {
  const delays: number[] = [];
  let now = from;
  let last;
  for (let i = 0; i < times; i++) {
    const startedAt = now;
    now += runMs;
    last = decideRestart(history, startedAt, now, policy);
    history = last.history;
    if (last.action === 'restart') {
      delays.push(last.delayMs);
      now += last.delayMs;
    }
  }
  return { delays, last: last!, history, now };
}

describe('restart policy', () => {
  it('backs off exponentially from the initial delay, capped', () => {
    // Crashes 20 s apart stay under 5 per minute, so the backoff grows without giving up.
    expect(crashRepeatedly(20_000, 6).delays).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  });

  it('starts the backoff over after a healthy run', () => {
    const quick = crashRepeatedly(100, 3);
    expect(quick.delays).toEqual([500, 1000, 2000]);
    const afterHealthy = decideRestart(quick.history, quick.now + 60_000, quick.now + 60_000 + 31_000, policy);
    expect(afterHealthy).toMatchObject({ action: 'restart', delayMs: 500 });
  });

  it('gives up on the fifth crash within a minute', () => {
    const { delays, last } = crashRepeatedly(100, 5);
    expect(delays).toEqual([500, 1000, 2000, 4000]);
    expect(last).toMatchObject({ action: 'give-up', crashesInWindow: 5 });
  });

  it('forgets crashes older than the window', () => {
    const early = crashRepeatedly(100, 4);
    expect(early.last.action).toBe('restart');
    // The fifth crash comes after the first four have left the window.
    const later = decideRestart(early.history, early.now + 61_000, early.now + 61_100, policy);
    expect(later).toMatchObject({ action: 'restart', history: { crashes: [early.now + 61_100] } });
  });
});
