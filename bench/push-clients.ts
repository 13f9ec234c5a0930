/**
 * A group of socket.io-client sockets for bench/push.ts, run as a child
 * process (forked with IPC) so the clients' own work of reading 1,000 frames
 * per signal is spread over processes instead of queueing in one event loop.
 *
 * Receive times are wall-clock high-resolution (performance.timeOrigin +
 * performance.now()), comparable across processes on the same host.
 */
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../common/events';

export interface ClientGroupSpec {
  ports: number[];
  userIds: string[];
  symbol: string;
  count: number;
  /** Index of this group's first socket, so sockets spread evenly over servers and users. */
  offset: number;
}

export type ParentMessage = { type: 'report' };
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; received: number }
  | { type: 'report'; receipts: Array<[string, number]>; duplicates: number; cpu: Array<[string, number]> }
  | { type: 'error'; message: string };

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
const wallNow = () => performance.timeOrigin + performance.now();

const send = (message: ChildMessage, then?: () => void) => process.send!(message, undefined, {}, () => then?.());

async function run(spec: ClientGroupSpec) {
  const receipts: Array<[string, number]> = [];
  let duplicates = 0;
  // Cumulative CPU (user + system, ms) of this process at each signal's first receipt: its per-signal cost.
  const cpu = new Map<string, number>();
  const clients: Client[] = [];
  for (let i = 0; i < spec.count; i++) {
    const n = spec.offset + i;
    const socket: Client = connect(`http://127.0.0.1:${spec.ports[n % spec.ports.length]}`, {
      auth: { userId: spec.userIds[n % spec.userIds.length] },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    const seen = new Set<number>();
    socket.on('signal:new', (row) => {
      const at = wallNow();
      if (seen.has(row.id)) duplicates++;
      seen.add(row.id);
      receipts.push([row.candleTime, at]);
      if (!cpu.has(row.candleTime)) {
        const u = process.cpuUsage();
        cpu.set(row.candleTime, (u.user + u.system) / 1000);
      }
    });
    clients.push(socket);
  }
  for (let i = 0; i < clients.length; i += 100) {
    await Promise.all(
      clients.slice(i, i + 100).map(async (socket) => {
        if (!socket.connected) await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
        const ack = await socket.emitWithAck('signals:subscribe', { symbols: [spec.symbol] });
        if (!ack.ok || ack.data.joined[0] !== spec.symbol) throw new Error(`subscribe refused: ${JSON.stringify(ack)}`);
      }),
    );
  }
  const progress = setInterval(() => send({ type: 'progress', received: receipts.length }), 100);
  process.on('message', (message: ParentMessage) => {
    if (message.type !== 'report') return;
    clearInterval(progress);
    for (const c of clients) c.disconnect();
    // Disconnect only once the (large) report has been handed to the channel.
    send({ type: 'report', receipts, duplicates, cpu: [...cpu] }, () => process.disconnect());
  });
  send({ type: 'ready' });
}

// A CPU profile (BENCH_CPU_PROF) is written only on a normal exit.
process.once('SIGTERM', () => process.exit(0));

run(JSON.parse(process.env.PUSH_CLIENTS_SPEC!) as ClientGroupSpec).catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
