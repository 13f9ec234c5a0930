/**
 * One Socket.IO server instance for bench/push.ts (started as a child
 * process, two of them): LISTENs for new signals and pushes them to its own
 * sockets, exactly as the web server does. Authentication is a stand-in that
 * trusts `handshake.auth.userId` — the benchmark measures the push path, and
 * the watch-list check still runs through RLS on the chat database.
 *
 * Env: TRADING_DATABASE_URL, CHAT_DATABASE_URL. Prints `LISTENING <port>`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { createDb } from '../common/db';
import type { ClientToServerEvents, ServerToClientEvents, SignalRow, SocketData } from '../common/events';
import { createLogger } from '../common/logger';
import type { LocalBroadcastResult } from '../server/realtime/local-broadcast';
import { registerSignalPush } from '../server/signals/signal-push';
import { registerSignalHandlers } from '../server/signals/signal.handlers';

const log = createLogger({ level: 'warn', name: 'push-server' });
const chatDb = createDb({ connectionString: process.env.CHAT_DATABASE_URL!, max: 4, applicationName: 'bench-push' });
const tradingDb = createDb({ connectionString: process.env.TRADING_DATABASE_URL!, max: 4, applicationName: 'bench-push' });

const http = createServer();
const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(http, { transports: ['websocket'] });
io.use((socket, next) => {
  socket.data.userId = String(socket.handshake.auth.userId);
  next();
});
// Bench-only instrumentation: when each `signal:new` broadcast starts and ends on this server (wall clock,
// comparable with the clients' receipts), and this process's cumulative CPU (user + system, ms) then, so
// bench/push.ts can split the latency and give the per-signal CPU whatever else shares the cores. Printed at exit.
const wall = (t: number) => performance.timeOrigin + t;
const broadcasts: Array<[string, number, number, number]> = [];
let direct = 0;
let queued = 0;
const onBroadcast = (rows: SignalRow[], result: LocalBroadcastResult, startedAt: number, endedAt: number) => {
  const cpu = process.cpuUsage();
  for (const row of rows) broadcasts.push([row.candleTime, wall(startedAt), wall(endedAt), (cpu.user + cpu.system) / 1000]);
  direct += result.direct;
  queued += result.queued;
};
const push = registerSignalPush({ io, tradingDb, log, onBroadcast });
io.on('connection', (socket) => registerSignalHandlers(socket, { push, chatDb, log }));
await push.ready;
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
process.stdout.write(`LISTENING ${(http.address() as AddressInfo).port}\n`);

process.once('SIGTERM', () => {
  void (async () => {
    process.stdout.write(`TIMING ${JSON.stringify(broadcasts)}\n`);
    process.stdout.write(`WRITES ${JSON.stringify({ direct, queued })}\n`);
    await push.close();
    await new Promise<void>((resolve) => io.close(() => resolve()));
    await Promise.all([chatDb.close(), tradingDb.close()]);
    process.exit(0);
  })();
});
