import { describe, expect, it } from 'vitest';
import { createCircuitBreaker } from './circuit-breaker';
import { backoffDelay, parseRetryAfter, retryDelay, type Failure } from './retry-policy';

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-06-01T12:00:00Z');
  it.each([
    [{ 'retry-after': '3' }, 3000],
    [{ 'retry-after': '0' }, 0],
    [{ 'retry-after-ms': '250', 'retry-after': '3' }, 250],
    [{ 'retry-after': 'Sun, 01 Jun 2025 12:00:05 GMT' }, 5000],
    [{ 'retry-after': 'Sun, 01 Jun 2025 11:00:00 GMT' }, 0],
    [{ 'retry-after': 'soon' }, undefined],
    [{ 'retry-after': '-1' }, undefined],
    [{}, undefined],
  ])('%j → %s', (headers, expected) => {
    expect(parseRetryAfter(new Headers(headers), now)).toBe(expected);
  });
});

describe('backoff', () => {
  it('grows exponentially with jitter within [ceiling/2, ceiling] and is capped', () => {
    const opts = { baseMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(n, opts, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(n, opts, () => 1))).toEqual([100, 200, 400, 800, 1000]);
  });

  const f = (retryAfterMs?: number): Failure => ({ kind: 'rate_limited', retrySame: true, message: '', retryAfterMs });
  const opts = { baseMs: 100, maxMs: 1000, maxRetryAfterMs: 2000 };
  it.each([
    ['no Retry-After: backoff', f(), true, 100],
    ['short Retry-After wins over a shorter backoff', f(1500), true, 1500],
    ['Retry-After beyond the cap with a next provider: fail over now', f(30_000), true, undefined],
    ['Retry-After beyond the cap, last provider: wait the cap', f(30_000), false, 2000],
    ['Retry-After 0: still back off a little', f(0), true, 100],
  ])('%s', (_name, failure, hasNext, expected) => {
    expect(retryDelay(failure, 0, { ...opts, hasNext }, () => 1)).toBe(expected);
  });
});

describe('circuit breaker', () => {
  it('walks closed → open → half-open (one probe) → closed with an injected clock', () => {
    let t = 0;
    const b = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, now: () => t });
    for (let i = 0; i < 2; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.failure();
    }
    expect(b.snapshot().state).toBe('closed');
    b.tryAcquire();
    b.failure();
    expect(b.snapshot()).toMatchObject({ state: 'open', consecutiveFailures: 3, retryInMs: 1000 });
    expect(b.tryAcquire()).toBe(false);
    t = 999;
    expect(b.tryAcquire()).toBe(false);
    t = 1000;
    expect(b.snapshot().state).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false); // single probe
    b.release(); // probe aborted by its caller: slot freed, still half-open
    expect(b.tryAcquire()).toBe(true);
    b.success();
    expect(b.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0, callsInWindow: 1, failureRatio: 0 });
  });

  it('a success resets the consecutive count; the ratio rule needs minCalls', () => {
    let t = 0;
    const b = createCircuitBreaker({ failureThreshold: 3, failureRatio: 0.5, minCalls: 4, windowMs: 10_000, now: () => t });
    b.failure();
    b.failure();
    b.success();
    expect(b.snapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    b.failure(); // 3 of 4 failed > 50 %
    expect(b.snapshot().state).toBe('open');

    const c = createCircuitBreaker({ failureThreshold: 9, failureRatio: 0.5, minCalls: 4, windowMs: 10_000, now: () => t });
    c.failure();
    c.failure();
    t = 20_000; // the old failures left the window
    c.success();
    c.failure();
    expect(c.snapshot()).toMatchObject({ state: 'closed', callsInWindow: 2 });
  });

  it('keeps the window exact as thousands of calls slide out of it (counted, not rescanned)', () => {
    let t = 0;
    const b = createCircuitBreaker({ failureThreshold: 1_000, failureRatio: 0.5, minCalls: 4, windowMs: 1_000, now: () => t });
    const record: Array<{ at: number; ok: boolean }> = [];
    // What the window holds, by a plain scan of every call: the calls at or after now − windowMs.
    const expected = () => {
      const inWindow = record.filter((c) => c.at >= t - 1_000);
      const failed = inWindow.filter((c) => !c.ok).length;
      return { callsInWindow: inWindow.length, failureRatio: inWindow.length === 0 ? 0 : failed / inWindow.length };
    };
    // 5,000 calls, one per ms, every fourth a failure.
    for (let i = 0; i < 5_000; i++) {
      t = i;
      const ok = i % 4 !== 3;
      record.push({ at: t, ok });
      if (ok) b.success();
      else b.failure();
      if (i % 499 === 0) expect(b.snapshot()).toMatchObject({ state: 'closed', ...expected() });
    }
    expect(b.snapshot()).toMatchObject({ callsInWindow: 1_001, failureRatio: 251 / 1_001 });
    t = 5_500; // half of them left the window
    expect(b.snapshot()).toMatchObject({ callsInWindow: 500, failureRatio: 0.25 });
    t = 10_000;
    expect(b.snapshot()).toMatchObject({ callsInWindow: 0, failureRatio: 0 });
    // Failures after an empty window are judged on their own: 4 of 4 failed opens the breaker.
    for (let i = 0; i < 4; i++) b.failure();
    expect(b.snapshot().state).toBe('open');
  });
});
