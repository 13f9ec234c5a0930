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

type SignalSeen = (row: { id: number; candleTime: string }) => void;
interface Receiver {
  /** Connected and subscribed. */
  ready(): Promise<void>;
  close(): void;
}

/** The bench's client: socket.io-client, as the web client uses it. */
function socketIoReceiver(port: number, userId: string, symbol: string, onSignal: SignalSeen): Receiver {
  const socket: Client = connect(`http://127.0.0.1:${port}`, { auth: { userId }, transports: ['websocket'], forceNew: true, reconnection: false });
  socket.on('signal:new', onSignal);
  return {
    async ready() {
      if (!socket.connected) await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
      const ack = await socket.emitWithAck('signals:subscribe', { symbols: [symbol] });
      if (!ack.ok || ack.data.joined[0] !== symbol) throw new Error(`subscribe refused: ${JSON.stringify(ack)}`);
    },
    close: () => socket.disconnect(),
  };
}

/**
 * Diagnostic only (BENCH_PUSH_CLIENT=raw): the same frames read by Node's built-in WebSocket, speaking the
 * Engine.IO/Socket.IO protocol by hand with one JSON.parse per frame — how much of the latency is
 * socket.io-client's own per-frame work in the bench's client processes.
 */
function rawReceiver(port: number, userId: string, symbol: string, onSignal: SignalSeen): Receiver {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
  let subscribed!: () => void;
  let failed!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => ((subscribed = resolve), (failed = reject)));
  ws.onerror = () => failed(new Error('raw client: WebSocket error'));
  ws.onmessage = (event: MessageEvent<string>) => {
    const data = event.data;
    if (data.startsWith('42')) {
      const [name, row] = JSON.parse(data.slice(2)) as [string, { id: number; candleTime: string }];
      if (name === 'signal:new') onSignal(row);
    } else if (data === '2') ws.send('3'); // Engine.IO ping → pong
    else if (data.startsWith('0')) ws.send(`40${JSON.stringify({ userId })}`); // open → Socket.IO CONNECT with auth
    else if (data.startsWith('40')) ws.send(`420${JSON.stringify(['signals:subscribe', { symbols: [symbol] }])}`);
    else if (data.startsWith('430')) {
      const [ack] = JSON.parse(data.slice(3)) as [{ ok: boolean; data?: { joined: string[] } }];
      if (ack.ok && ack.data?.joined[0] === symbol) subscribed();
      else failed(new Error(`subscribe refused: ${JSON.stringify(ack)}`));
    }
  };
  return { ready: () => done, close: () => ws.close() };
}

async function run(spec: ClientGroupSpec) {
  const receipts: Array<[string, number]> = [];
  let duplicates = 0;
  // Cumulative CPU (user + system, ms) of this process at each signal's first receipt: its per-signal cost.
  const cpu = new Map<string, number>();
  const clients: Receiver[] = [];
  const receiver = process.env.BENCH_PUSH_CLIENT === 'raw' ? rawReceiver : socketIoReceiver;
  for (let i = 0; i < spec.count; i++) {
    const n = spec.offset + i;
    const seen = new Set<number>();
    const onSignal: SignalSeen = (row) => {
      const at = wallNow();
      if (seen.has(row.id)) duplicates++;
      seen.add(row.id);
      receipts.push([row.candleTime, at]);
      if (!cpu.has(row.candleTime)) {
        const u = process.cpuUsage();
        cpu.set(row.candleTime, (u.user + u.system) / 1000);
      }
    };
    clients.push(receiver(spec.ports[n % spec.ports.length]!, spec.userIds[n % spec.userIds.length]!, spec.symbol, onSignal));
  }
  for (let i = 0; i < clients.length; i += 100) await Promise.all(clients.slice(i, i + 100).map((c) => c.ready()));
  const progress = setInterval(() => send({ type: 'progress', received: receipts.length }), 100);
  process.on('message', (message: ParentMessage) => {
    if (message.type !== 'report') return;
    clearInterval(progress);
    for (const c of clients) c.close();
    // Disconnect only once the (large) report has been handed to the channel.
    send({ type: 'report', receipts, duplicates, cpu: [...cpu] }, () => process.disconnect());
  });
  send({ type: 'ready' });
}

// A CPU profile (BENCH_CPU_PROFILE) is written only on a normal exit.
process.once('SIGTERM', () => process.exit(0));

run(JSON.parse(process.env.PUSH_CLIENTS_SPEC!) as ClientGroupSpec).catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
