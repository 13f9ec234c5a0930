/**
 * The socket's connect / refresh / resume state machine, pure so the awkward
 * cases can be tested: the server checks the access token only at the
 * handshake, so an expired token shows up either as `connect_error` with a
 * `token_*` code or as an `auth:expired` event on a live connection. Either
 * way: refresh the session, put the new token in `socket.auth`, connect again,
 * then resubscribe to signals and resume answers that were in progress.
 */

export type ConnStatus = 'offline' | 'connecting' | 'connected' | 'reconnecting' | 'refreshing' | 'auth_failed';

export interface ConnState {
  status: ConnStatus;
  everConnected: boolean;
  /** Refreshes tried since the last successful connect; bounded so a bad account cannot loop. */
  authAttempts: number;
  retryAttempts: number;
  /** Supabase refreshed the token while an answer was streaming: reconnect once it is done. */
  tokenStale: boolean;
}

export type ConnEvent =
  | { type: 'start' }
  | { type: 'connected' }
  | { type: 'disconnected'; reason: string; willRetry: boolean }
  | { type: 'connect_error'; code: string; willRetry: boolean }
  | { type: 'auth_expired' }
  | { type: 'refreshed' }
  | { type: 'refresh_failed'; retryable: boolean }
  | { type: 'token_changed'; busy: boolean }
  | { type: 'idle' }
  | { type: 'stop' };

export type ConnEffect =
  | { type: 'connect'; delayMs: number }
  | { type: 'refresh'; delayMs: number }
  /** Drop the connection (if any) and open a new one with the current token. */
  | { type: 'reconnect' }
  /** Subscribe to signals and resume answers in progress. */
  | { type: 'on_connected' }
  /** Mark answers in progress as interrupted. */
  | { type: 'on_lost' }
  | { type: 'disconnect' };

export const MAX_AUTH_ATTEMPTS = 2;

export const initialConn: ConnState = { status: 'offline', everConnected: false, authAttempts: 0, retryAttempts: 0, tokenStale: false };

export function isAuthCode(code: string): boolean {
  return code.startsWith('token_') || code === 'unauthorized';
}

/** Exponential backoff for retries we schedule ourselves (Socket.IO schedules its own with jitter). */
export function backoffMs(attempt: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, attempt));
}

type Step = { state: ConnState; effects: ConnEffect[] };

export function connectionStep(state: ConnState, event: ConnEvent): Step {
  const stay: Step = { state, effects: [] };
  if (event.type === 'stop') return { state: initialConn, effects: state.status === 'offline' ? [] : [{ type: 'disconnect' }] };
  if (event.type === 'start') {
    if (state.status !== 'offline' && state.status !== 'auth_failed') return stay;
    return { state: { ...initialConn, status: 'connecting' }, effects: [{ type: 'connect', delayMs: 0 }] };
  }
  if (state.status === 'offline') return stay;

  switch (event.type) {
    case 'connected':
      return {
        state: { status: 'connected', everConnected: true, authAttempts: 0, retryAttempts: 0, tokenStale: false },
        effects: [{ type: 'on_connected' }],
      };

    case 'disconnected': {
      // Our own disconnect (sign-out or a planned reconnect) is handled by whoever called it.
      if (event.reason === 'io client disconnect') return stay;
      if (state.status === 'refreshing' || state.status === 'auth_failed') return { state, effects: [{ type: 'on_lost' }] };
      const next = { ...state, status: 'reconnecting' as const };
      if (event.willRetry) return { state: next, effects: [{ type: 'on_lost' }] };
      // 'io server disconnect': Socket.IO will not retry by itself.
      return { state: { ...next, retryAttempts: state.retryAttempts + 1 }, effects: [{ type: 'on_lost' }, { type: 'connect', delayMs: backoffMs(state.retryAttempts) }] };
    }

    case 'connect_error': {
      if (isAuthCode(event.code)) {
        if (state.status === 'refreshing') return stay;
        if (state.authAttempts >= MAX_AUTH_ATTEMPTS) return { state: { ...state, status: 'auth_failed' }, effects: [] };
        return { state: { ...state, status: 'refreshing', authAttempts: state.authAttempts + 1 }, effects: [{ type: 'refresh', delayMs: 0 }] };
      }
      const next: ConnState = { ...state, status: state.everConnected ? 'reconnecting' : 'connecting', retryAttempts: state.retryAttempts + 1 };
      return { state: next, effects: event.willRetry ? [] : [{ type: 'connect', delayMs: backoffMs(state.retryAttempts) }] };
    }

    case 'auth_expired':
      if (state.status === 'refreshing' || state.status === 'auth_failed') return stay;
      return { state: { ...state, status: 'refreshing', authAttempts: state.authAttempts + 1 }, effects: [{ type: 'refresh', delayMs: 0 }] };

    case 'refreshed':
      if (state.status !== 'refreshing') return stay;
      return { state: { ...state, status: state.everConnected ? 'reconnecting' : 'connecting', tokenStale: false }, effects: [{ type: 'reconnect' }] };

    case 'refresh_failed':
      if (state.status !== 'refreshing') return stay;
      // A network failure is worth retrying; a rejected refresh token means signing in again.
      if (event.retryable) {
        return { state: { ...state, retryAttempts: state.retryAttempts + 1 }, effects: [{ type: 'refresh', delayMs: backoffMs(state.retryAttempts) }] };
      }
      return { state: { ...state, status: 'auth_failed' }, effects: [] };

    case 'token_changed':
      if (state.status !== 'connected') return stay; // the next attempt reads the new socket.auth
      if (event.busy) return { state: { ...state, tokenStale: true }, effects: [] };
      return { state: { ...state, status: 'connecting', tokenStale: false }, effects: [{ type: 'reconnect' }] };

    case 'idle':
      if (state.status !== 'connected' || !state.tokenStale) return stay;
      return { state: { ...state, status: 'connecting', tokenStale: false }, effects: [{ type: 'reconnect' }] };
  }
}

export function statusLabel(state: ConnState): string {
  switch (state.status) {
    case 'offline':
      return 'Offline';
    case 'connecting':
      return 'Connecting…';
    case 'connected':
      return 'Live';
    case 'reconnecting':
      return 'Connection lost — reconnecting…';
    case 'refreshing':
      return 'Refreshing session…';
    case 'auth_failed':
      return 'Session expired — please sign in again';
  }
}
