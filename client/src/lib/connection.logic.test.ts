import { describe, expect, it } from 'vitest';
import { backoffMs, connectionStep, initialConn, isAuthCode, MAX_AUTH_ATTEMPTS, statusLabel, type ConnEffect, type ConnEvent, type ConnState } from './connection.logic';

function run(events: ConnEvent[], start: ConnState = initialConn) {
  let state = start;
  const effects: ConnEffect[][] = [];
  for (const event of events) {
    const step = connectionStep(state, event);
    state = step.state;
    effects.push(step.effects);
  }
  return { state, effects };
}

const connected = run([{ type: 'start' }, { type: 'connected' }]).state;

describe('connection state machine', () => {
  it('start connects; connected subscribes and resumes', () => {
    const { state, effects } = run([{ type: 'start' }, { type: 'connected' }]);
    expect(effects).toEqual([[{ type: 'connect', delayMs: 0 }], [{ type: 'on_connected' }]]);
    expect(state).toMatchObject({ status: 'connected', everConnected: true });
  });

  it('events before start are ignored', () => {
    expect(run([{ type: 'connected' }, { type: 'auth_expired' }]).state).toEqual(initialConn);
  });

  it('expired token at handshake: refresh, then reconnect with the new token', () => {
    const { state, effects } = run([{ type: 'start' }, { type: 'connect_error', code: 'token_expired', willRetry: false }, { type: 'refreshed' }, { type: 'connected' }]);
    expect(effects.slice(1)).toEqual([[{ type: 'refresh', delayMs: 0 }], [{ type: 'reconnect' }], [{ type: 'on_connected' }]]);
    expect(state.authAttempts).toBe(0);
  });

  it('gives up after repeated auth failures instead of looping', () => {
    const fail: ConnEvent = { type: 'connect_error', code: 'token_invalid_signature', willRetry: false };
    const events: ConnEvent[] = [{ type: 'start' }];
    for (let i = 0; i < MAX_AUTH_ATTEMPTS; i++) events.push(fail, { type: 'refreshed' });
    events.push(fail);
    const { state, effects } = run(events);
    expect(state.status).toBe('auth_failed');
    expect(effects.at(-1)).toEqual([]);
    // signing in again starts afresh
    expect(run([{ type: 'start' }], state).state).toMatchObject({ status: 'connecting', authAttempts: 0 });
  });

  it('auth:expired on a live connection refreshes; the server disconnect meanwhile does not trigger a second connect', () => {
    const { state, effects } = run(
      [{ type: 'auth_expired' }, { type: 'disconnected', reason: 'io server disconnect', willRetry: false }, { type: 'refreshed' }, { type: 'connected' }],
      connected,
    );
    expect(effects).toEqual([[{ type: 'refresh', delayMs: 0 }], [{ type: 'on_lost' }], [{ type: 'reconnect' }], [{ type: 'on_connected' }]]);
    expect(state.status).toBe('connected');
  });

  it('a refresh that fails on the network is retried with backoff; a rejected one asks to sign in', () => {
    const refreshing = run([{ type: 'auth_expired' }], connected).state;
    const retry = run([{ type: 'refresh_failed', retryable: true }, { type: 'refresh_failed', retryable: true }], refreshing);
    expect(retry.effects).toEqual([[{ type: 'refresh', delayMs: backoffMs(0) }], [{ type: 'refresh', delayMs: backoffMs(1) }]]);
    expect(run([{ type: 'refresh_failed', retryable: false }], refreshing).state.status).toBe('auth_failed');
  });

  it('transport loss: Socket.IO retries by itself; we only mark answers interrupted', () => {
    const { state, effects } = run([{ type: 'disconnected', reason: 'transport close', willRetry: true }, { type: 'connect_error', code: 'xhr poll error', willRetry: true }], connected);
    expect(effects).toEqual([[{ type: 'on_lost' }], []]);
    expect(state.status).toBe('reconnecting');
    expect(statusLabel(state)).toMatch(/reconnecting/);
  });

  it('server disconnect without auth:expired: we schedule the reconnect with growing delays', () => {
    const { effects } = run(
      [
        { type: 'disconnected', reason: 'io server disconnect', willRetry: false },
        { type: 'connect_error', code: 'websocket error', willRetry: false },
      ],
      connected,
    );
    expect(effects).toEqual([[{ type: 'on_lost' }, { type: 'connect', delayMs: backoffMs(0) }], [{ type: 'connect', delayMs: backoffMs(1) }]]);
  });

  it('our own disconnect is not a loss', () => {
    expect(run([{ type: 'disconnected', reason: 'io client disconnect', willRetry: false }], connected).effects).toEqual([[]]);
  });

  it('token refreshed by supabase: reconnect now when idle, after the answer when busy', () => {
    expect(run([{ type: 'token_changed', busy: false }], connected).effects).toEqual([[{ type: 'reconnect' }]]);
    const busy = run([{ type: 'token_changed', busy: true }, { type: 'idle' }, { type: 'idle' }], connected);
    expect(busy.effects).toEqual([[], [{ type: 'reconnect' }], []]);
    // while not connected the next attempt simply uses the new token
    expect(run([{ type: 'start' }, { type: 'token_changed', busy: false }]).effects[1]).toEqual([]);
  });

  it('stop disconnects and resets', () => {
    const { state, effects } = run([{ type: 'stop' }], connected);
    expect(effects).toEqual([[{ type: 'disconnect' }]]);
    expect(state).toEqual(initialConn);
  });
});

describe('helpers', () => {
  it.each([
    ['token_expired', true],
    ['token_missing', true],
    ['unauthorized', true],
    ['xhr poll error', false],
    ['rate_limited', false],
  ])('isAuthCode(%s) = %s', (code, expected) => {
    expect(isAuthCode(code)).toBe(expected);
  });

  it('backoff grows and is capped', () => {
    expect([0, 1, 2, 10, 20].map(backoffMs)).toEqual([500, 1000, 2000, 30_000, 30_000]);
  });
});
