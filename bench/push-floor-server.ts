/**
 * The floor of bench/push.ts: a Socket.IO server (child process, two of them,
 * like bench/push-server.ts) that does the least any server could do per
 * signal and socket. The parent hands it the signal over IPC, and it writes
 * one prebuilt WebSocket frame (the bytes Zmarty sends for `signal:new`) to
 * each subscribed socket's TCP connection: no database, no NOTIFY, no rooms,
 * no per-socket encoding. What is left is the kernel's write and the same
 * client processes reading the same frames on the same cores. Zmarty's
 * latency minus this one, measured in the same run, is what Zmarty adds.
 *
 * Prints `LISTENING <port>`; at SIGTERM the same `TIMING` / `WRITES` lines as
 * push-server.ts.
 */
import { createServer } from 'node:http';
import type { AddressInfo, Socket as NetSocket } from 'node:net';
import { Server, type Socket } from 'socket.io';
import type { SignalRow } from '../common/events';
import { textFrame } from '../server/realtime/local-broadcast';

const http = createServer();
const io = new Server(http, { transports: ['websocket'] });
/** Socket id → the TCP connection under its WebSocket, once subscribed. */
const subscribed = new Map<string, NetSocket>();

/** The TCP connection under a socket's WebSocket transport (the only transport allowed here). */
const tcpOf = (socket: Socket) =>
  (socket.conn as unknown as { transport: { socket: { _socket: NetSocket } } }).transport.socket._socket;

io.on('connection', (socket) => {
  socket.on('signals:subscribe', (payload: { symbols: string[] }, ack: (result: unknown) => void) => {
    subscribed.set(socket.id, tcpOf(socket));
    ack({ ok: true, data: { joined: payload.symbols, refused: [] } });
  });
  socket.on('disconnect', () => subscribed.delete(socket.id));
});

const wall = (t: number) => performance.timeOrigin + t;
const broadcasts: Array<[string, number, number, number]> = [];
let direct = 0;
process.on('message', (message: { type: 'signal'; row: SignalRow }) => {
  if (message.type !== 'signal') return;
  const started = performance.now();
  // engine.io message (4), socket.io EVENT (2), as socket.io encodes it.
  const frame = textFrame(`42${JSON.stringify(['signal:new', message.row])}`);
  for (const tcp of subscribed.values()) tcp.write(frame);
  direct += subscribed.size;
  const cpu = process.cpuUsage();
  broadcasts.push([message.row.candleTime, wall(started), wall(performance.now()), (cpu.user + cpu.system) / 1000]);
});

await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
process.stdout.write(`LISTENING ${(http.address() as AddressInfo).port}\n`);

process.once('SIGTERM', () => {
  process.stdout.write(`TIMING ${JSON.stringify(broadcasts)}\n`);
  process.stdout.write(`WRITES ${JSON.stringify({ direct, queued: 0 })}\n`);
  io.close(() => process.exit(0));
});
