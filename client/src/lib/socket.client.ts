import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../common/events';
import type { RefreshResult } from '../auth/supabase.client';
import { connectionStep, initialConn, type ConnEffect, type ConnEvent, type ConnState } from './connection.logic';

export type ZmartySocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface Connection {
  socket: ZmartySocket;
  getState(): ConnState;
  /** For useSyncExternalStore. */
  subscribe(listener: () => void): () => void;
  /** Runs after every (re)connect: subscribe to signals, resume answers. */
  onConnected(callback: () => void): () => void;
  /** Runs when a live connection drops. */
  onLost(callback: () => void): () => void;
  /** An answer is streaming: a token refresh waits for it before reconnecting. */
  setBusy(busy: boolean): void;
  /** supabase-js refreshed the session on its own (TOKEN_REFRESHED). */
  tokenChanged(token: string): void;
  start(): void;
  close(): void;
}

export interface ConnectionDeps {
  url: string;
  token: string;
  refresh: () => Promise<RefreshResult>;
}

/**
 * One Socket.IO connection per signed-in user, driven by the pure state
 * machine in connection.logic: this file only performs its effects.
 */
export function createConnection(deps: ConnectionDeps): Connection {
  const socket: ZmartySocket = io(deps.url, {
    auth: { token: deps.token },
    // WebSocket first: one connection that any instance behind a plain round-robin balancer can hold.
    // Long-polling (several requests per session) is only the fallback, and only it needs sticky sessions.
    transports: ['websocket', 'polling'],
    tryAllTransports: true,
    autoConnect: false,
    reconnectionDelay: 500,
    reconnectionDelayMax: 10_000,
  });
  let state = initialConn;
  let busy = false;
  let closed = false;
  const listeners = new Set<() => void>();
  const connectedCallbacks = new Set<() => void>();
  const lostCallbacks = new Set<() => void>();
  const timers = new Set<ReturnType<typeof setTimeout>>();

  function later(delayMs: number, work: () => void) {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) work();
    }, delayMs);
    timers.add(timer);
  }

  function setToken(token: string) {
    socket.auth = { token };
  }

  function dispatch(event: ConnEvent) {
    if (closed && event.type !== 'stop') return;
    const step = connectionStep(state, event);
    if (step.state !== state) {
      state = step.state;
      for (const listener of listeners) listener();
    }
    for (const effect of step.effects) perform(effect);
  }

  function perform(effect: ConnEffect) {
    switch (effect.type) {
      case 'connect':
        later(effect.delayMs, () => {
          if (!socket.connected) socket.connect();
        });
        return;
      case 'refresh':
        later(effect.delayMs, () => {
          void deps.refresh().then((result) => {
            if ('token' in result) {
              setToken(result.token);
              dispatch({ type: 'refreshed' });
            } else {
              dispatch({ type: 'refresh_failed', retryable: result.error === 'retryable' });
            }
          });
        });
        return;
      case 'reconnect':
        // disconnect() reports 'io client disconnect', which the state machine ignores.
        if (socket.connected || socket.active) socket.disconnect();
        socket.connect();
        return;
      case 'on_connected':
        for (const callback of connectedCallbacks) callback();
        return;
      case 'on_lost':
        for (const callback of lostCallbacks) callback();
        return;
      case 'disconnect':
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        socket.disconnect();
        return;
    }
  }

  socket.on('connect', () => dispatch({ type: 'connected' }));
  socket.on('disconnect', (reason) => dispatch({ type: 'disconnected', reason, willRetry: socket.active }));
  // A refusal by the server's auth middleware carries a stable code in `message` (e.g. token_expired).
  socket.on('connect_error', (err) => dispatch({ type: 'connect_error', code: err.message, willRetry: socket.active }));
  socket.on('auth:expired', () => dispatch({ type: 'auth_expired' }));

  return {
    socket,
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onConnected(callback) {
      connectedCallbacks.add(callback);
      return () => connectedCallbacks.delete(callback);
    },
    onLost(callback) {
      lostCallbacks.add(callback);
      return () => lostCallbacks.delete(callback);
    },
    setBusy(next) {
      if (busy === next) return;
      busy = next;
      if (!busy) dispatch({ type: 'idle' });
    },
    tokenChanged(token) {
      const current = (socket.auth as { token?: string } | undefined)?.token;
      if (current === token) return;
      setToken(token);
      dispatch({ type: 'token_changed', busy });
    },
    start: () => dispatch({ type: 'start' }),
    close() {
      dispatch({ type: 'stop' });
      closed = true;
      socket.removeAllListeners();
      listeners.clear();
      connectedCallbacks.clear();
      lostCallbacks.clear();
    },
  };
}
