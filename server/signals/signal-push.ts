import type pg from 'pg';
import type { Server, Socket } from 'socket.io';
import type { Db } from '../../common/db';
import type { ClientToServerEvents, ServerToClientEvents, SignalRow, SocketData } from '../../common/events';
import type { Logger } from '../../common/logger';
import { createPgListener } from '../../common/pg-listener';
import { emitToLocalRooms, type LocalBroadcastResult, type LocalEmit } from '../realtime/local-broadcast';
import { signalQueries, signalRowFromJson } from './signals.queries';

/** The channel the `signals` insert trigger (sql/trading/0003) notifies, payload `{"id":…,"symbol":…}`. */
export const SIGNAL_CHANNEL = 'zmarty_signal_new';

// Any inter-server event map: the push only emits server→client events.
type AnyEvents = Record<string, (...args: never[]) => void>;
export type SignalIo<I extends AnyEvents = AnyEvents> = Server<ClientToServerEvents, ServerToClientEvents, I, SocketData>;
export type SignalSocket<I extends AnyEvents = AnyEvents> = Socket<ClientToServerEvents, ServerToClientEvents, I, SocketData>;

export const signalRoom = (symbol: string) => `signals:${symbol}`;

export interface SignalPushOptions {
  /** Most signals one reconnect replays (the newest ones win). */
  replayLimit?: number;
  /** How long a replayed id is remembered per socket, so its late live notification is not sent twice. */
  replayDedupeMs?: number;
  /** Delay before the first reconnect of the LISTEN connection; doubles up to 10 s. */
  reconnectDelayMs?: number;
  /** Liveness query on the LISTEN connection, so a silently dropped connection is noticed. */
  pingIntervalMs?: number;
  /**
   * Called after each live broadcast with its rows, how its sockets were written and when it ran
   * (`performance.now()` at start and end): for metrics and bench/push.ts's latency split.
   */
  onBroadcast?(rows: SignalRow[], result: LocalBroadcastResult, startedAt: number, endedAt: number): void;
}

export interface SignalPushDeps<I extends AnyEvents> extends SignalPushOptions {
  io: SignalIo<I>;
  tradingDb: Db;
  log: Logger;
}

export interface SignalPush {
  /** Resolves once the first LISTEN is in place. */
  readonly ready: Promise<void>;
  /** Joins `symbols`' rooms; with `sinceId`, first replays what the socket missed, in id order, never twice. */
  subscribe(socket: SignalSocket<AnyEvents>, symbols: string[], sinceId?: number): Promise<void>;
  close(): Promise<void>;
}

interface PendingReplay {
  socketId: string;
  symbols: Set<string>;
  buffer: SignalRow[];
}

/**
 * Pushes every committed signal to the sockets of this instance.
 *
 * Each server instance LISTENs on its own dedicated connection and emits to
 * its own rooms, so instances scale out without an adapter. The row usually
 * arrives in the notification itself; when it did not fit, the queued ids are
 * loaded with one query, still emitted in arrival order. A socket replaying
 * after a reconnect is kept out of the live broadcast until its replay is
 * sent; rows broadcast meanwhile are buffered for it, and replayed ids are
 * remembered for a while so a notification arriving after the replay (NOTIFY
 * lags the commit) is not delivered twice.
 */
export function registerSignalPush<I extends AnyEvents>(deps: SignalPushDeps<I>): SignalPush {
  const { io, tradingDb, log } = deps;
  const replayLimit = deps.replayLimit ?? 500;
  const dedupeMs = deps.replayDedupeMs ?? 60_000;
  const baseDelay = deps.reconnectDelayMs ?? 250;
  const pingMs = deps.pingIntervalMs ?? 15_000;

  const pending = new Set<PendingReplay>();
  /** signal id → sockets that already have it from a replay. */
  const replayed = new Map<number, Set<string>>();
  /** Ids already broadcast: a reconnect catch-up must not resend them. Insertion-ordered, trimmed. */
  const dispatched = new Set<number>();
  /** Notified signals not emitted yet, in arrival (= commit) order; `row` is absent when it must be loaded. */
  const queue: Array<{ id: number; row: SignalRow | null }> = [];
  let draining: Promise<void> | undefined;
  let maxSeenId = 0;

  const hasAudience = (symbol: string) => {
    if ((io.sockets.adapter.rooms.get(signalRoom(symbol))?.size ?? 0) > 0) return true;
    for (const p of pending) if (p.symbols.has(symbol)) return true;
    return false;
  };

  /** Broadcasts `rows` (in this order) to their rooms' sockets on this instance, each socket's share in one write. */
  function emitRows(rows: SignalRow[]) {
    const emits: LocalEmit[] = [];
    const sent: SignalRow[] = [];
    for (const row of rows) {
      if (dispatched.has(row.id)) continue;
      dispatched.add(row.id);
      if (dispatched.size > 20_000) {
        for (const id of dispatched) {
          dispatched.delete(id);
          if (dispatched.size <= 10_000) break;
        }
      }
      const except = new Set(replayed.get(row.id));
      for (const p of pending) {
        if (!p.symbols.has(row.symbol)) continue;
        p.buffer.push(row);
        except.add(p.socketId);
      }
      emits.push({ room: signalRoom(row.symbol), event: 'signal:new', payload: row, except });
      sent.push(row);
    }
    if (!emits.length) return;
    // Every instance hears the NOTIFY and serves its own sockets: local, or the adapter would deliver N copies.
    const startedAt = performance.now();
    const result = emitToLocalRooms(io, emits);
    deps.onBroadcast?.(sent, result, startedAt, performance.now());
  }

  /**
   * Emits queued signals in arrival order. Rows that came in the payload go
   * out at once; the others are loaded together in one query first.
   */
  async function drain(): Promise<void> {
    while (queue.length) {
      const ready: SignalRow[] = [];
      while (queue[0]?.row) ready.push(queue.shift()!.row!);
      emitRows(ready);
      if (!queue.length) break;
      const batch = queue.splice(0, 500);
      try {
        const missing = batch.filter((e) => !e.row).map((e) => e.id);
        const loaded = new Map((await signalQueries.byIds(tradingDb.pool, missing)).map((r) => [r.id, r]));
        emitRows(batch.flatMap((e) => e.row ?? loaded.get(e.id) ?? []));
      } catch (err) {
        log.error({ err, count: batch.length }, 'signal push: loading notified signals failed');
      }
    }
  }

  function startDrain() {
    // After a microtask: the notifications of one read from the LISTEN connection (a candle close notifies
    // every pair at once) are all queued by then, and go out together.
    draining ??= Promise.resolve()
      .then(drain)
      .finally(() => {
        draining = undefined;
        // Whatever arrived between the loop's end and this callback.
        if (queue.length) startDrain();
      });
  }

  function enqueue(id: number, row: SignalRow | null) {
    queue.push({ id, row });
    startDrain();
  }

  function onNotification(payload: string) {
    let parsed: { id?: unknown; symbol?: unknown; row?: Record<string, unknown> };
    try {
      parsed = JSON.parse(payload) as typeof parsed;
    } catch {
      return;
    }
    if (typeof parsed.id !== 'number' || typeof parsed.symbol !== 'string') return;
    maxSeenId = Math.max(maxSeenId, parsed.id);
    if (hasAudience(parsed.symbol)) enqueue(parsed.id, parsed.row ? signalRowFromJson(parsed.row) : null);
  }

  /** On every (re)connection: signals committed while nobody listened are sent now. */
  async function catchUp(next: pg.Client, { first }: { first: boolean }): Promise<void> {
    const currentMax = await signalQueries.maxId(next);
    if (first) maxSeenId = currentMax;
    else if (currentMax > maxSeenId) {
      // Signals committed while we were not listening: send them now.
      const missed = await next.query<{ id: number; symbol: string }>(
        'select id, symbol from public.signals where id > $1 order by id limit 1000',
        [maxSeenId],
      );
      for (const r of missed.rows) {
        maxSeenId = Math.max(maxSeenId, r.id);
        if (hasAudience(r.symbol)) enqueue(r.id, null);
      }
    }
  }

  const listener = createPgListener({
    connection: tradingDb.pool.options,
    channel: SIGNAL_CHANNEL,
    name: 'zmarty-signal-push',
    log,
    onNotification,
    onConnected: catchUp,
    reconnectDelayMs: baseDelay,
    pingIntervalMs: pingMs,
  });
  const ready = listener.ready;

  function rememberReplayed(socketId: string, ids: Iterable<number>) {
    const list = [...ids];
    for (const id of list) {
      let sockets = replayed.get(id);
      if (!sockets) replayed.set(id, (sockets = new Set()));
      sockets.add(socketId);
    }
    setTimeout(() => {
      for (const id of list) {
        const sockets = replayed.get(id);
        sockets?.delete(socketId);
        if (sockets?.size === 0) replayed.delete(id);
      }
    }, dedupeMs).unref();
  }

  return {
    ready,
    async subscribe(socket, symbols, sinceId) {
      if (!symbols.length) return;
      const rooms = symbols.map(signalRoom);
      if (sinceId === undefined) {
        await socket.join(rooms);
        return;
      }
      const entry: PendingReplay = { socketId: socket.id, symbols: new Set(symbols), buffer: [] };
      pending.add(entry);
      try {
        const rows = await signalQueries.since(tradingDb.pool, symbols, sinceId, replayLimit);
        const sent = new Set<number>();
        for (const row of rows) {
          socket.emit('signal:new', row);
          sent.add(row.id);
        }
        await socket.join(rooms);
        // Rows broadcast while we replayed skipped this socket: hand over those it does not have yet.
        for (const row of entry.buffer.sort((a, b) => a.id - b.id)) {
          if (sent.has(row.id) || row.id <= sinceId) continue;
          socket.emit('signal:new', row);
          sent.add(row.id);
        }
        rememberReplayed(socket.id, sent);
      } finally {
        pending.delete(entry);
      }
    },
    async close() {
      await listener.close();
      await draining;
    },
  };
}
