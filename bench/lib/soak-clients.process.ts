/**
 * Child process: the soak's load. Holds W watcher sockets (each subscribed to
 * its user's pairs, counting every `signal:new`) and S streaming sockets, each
 * a closed loop of questions (the next one as soon as the previous is done),
 * all through the balancer. Everything it reports is counted here, so the
 * parent can reconcile it against the databases.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '../../common/events';
import { serveChild } from './child';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

interface User {
  accessToken: string;
  symbols: string[];
}

const watchers: ClientSocket[] = [];
const streamers: ClientSocket[] = [];
/** Signal id → how many watcher sockets received it. */
const received = new Map<number, number>();
let watcherSymbols: string[][] = [];
let running = false;
const totals = { sent: 0, accepted: 0, refused: 0, errors: 0, done: 0, timeouts: 0, charged: 0 };
const errorCodes: Record<string, number> = {};
let ttftMs: number[] = [];
let loops: Promise<void>[] = [];

function connect(url: string, token: string): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timed out')), 60_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
  });
}

async function inBatches<T>(count: number, batch: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += batch) out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, j) => work(i + j)))));
  return out;
}

/** One stream: questions one after another until `running` is cleared. */
async function loop(socket: ClientSocket, message: string, timeoutMs: number) {
  while (running) {
    const id = randomUUID();
    const sentAt = performance.now();
    totals.sent++;
    await new Promise<void>((resolve) => {
      let first = true;
      const finish = () => {
        clearTimeout(timer);
        socket.off('chat:token', onToken).off('chat:done', onDone).off('chat:error', onError);
        resolve();
      };
      const timer = setTimeout(() => {
        totals.timeouts++;
        finish();
      }, timeoutMs);
      const onToken = (e: { id: string }) => {
        if (e.id !== id || !first) return;
        first = false;
        ttftMs.push(performance.now() - sentAt);
      };
      const onDone = (e: { id: string; credits: { charged: number } }) => {
        if (e.id !== id) return;
        totals.done++;
        totals.charged += e.credits.charged;
        finish();
      };
      const onError = (e: { id: string; code: string }) => {
        if (e.id !== id) return;
        totals.errors++;
        errorCodes[e.code] = (errorCodes[e.code] ?? 0) + 1;
      };
      socket.on('chat:token', onToken).on('chat:done', onDone).on('chat:error', onError);
      socket.emit('chat:send', { id, message }, (ack: Ack<unknown>) => {
        if (ack.ok) return void totals.accepted++;
        totals.refused++;
        errorCodes[ack.error.code] = (errorCodes[ack.error.code] ?? 0) + 1;
        finish();
      });
    });
    if (!socket.connected) break;
  }
}

serveChild({
  /** Connects and subscribes `count` watcher sockets, user i mod users. */
  async watchers(payload: { url: string; users: User[]; count: number }) {
    watcherSymbols = [];
    await inBatches(payload.count, 50, async (i) => {
      const user = payload.users[i % payload.users.length]!;
      const socket = await connect(payload.url, user.accessToken);
      socket.on('signal:new', (row) => received.set(row.id, (received.get(row.id) ?? 0) + 1));
      const ack = await socket.timeout(30_000).emitWithAck('signals:subscribe', { symbols: user.symbols });
      if (!ack.ok) throw new Error(`subscribe failed: ${ack.error.message}`);
      watchers.push(socket);
      watcherSymbols.push(user.symbols);
    });
    return { watchers: watchers.length };
  },
  /** Starts `count` closed-loop streams. */
  async streams(payload: { url: string; users: User[]; count: number; message: string; timeoutMs: number }) {
    const sockets = await inBatches(payload.count, 50, (i) => connect(payload.url, payload.users[i % payload.users.length]!.accessToken));
    streamers.push(...sockets);
    running = true;
    loops = sockets.map((s) => loop(s, payload.message, payload.timeoutMs));
    return { streams: sockets.length };
  },
  /** The figures since the previous call (TTFTs) and in total (counts). */
  sample() {
    const out = { ttftMs, totals: { ...totals }, errorCodes: { ...errorCodes }, connected: streamers.filter((s) => s.connected).length + watchers.filter((s) => s.connected).length };
    ttftMs = [];
    return out;
  },
  /** Stops the streams (each finishes its answer in progress). */
  async stopStreams() {
    running = false;
    await Promise.all(loops);
    return { totals: { ...totals }, errorCodes: { ...errorCodes } };
  },
  /** Per symbol the watcher sockets subscribed to it; per signal id the pushes received. */
  signals() {
    const subscribers: Record<string, number> = {};
    for (const symbols of watcherSymbols) for (const s of symbols) subscribers[s] = (subscribers[s] ?? 0) + 1;
    return { subscribers, received: Object.fromEntries(received) };
  },
  close() {
    for (const s of [...watchers, ...streamers]) s.close();
  },
});
