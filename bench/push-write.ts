/**
 * Server CPU per socket of one room broadcast: socket.io's own room emit
 * (`io.local.to(room).emit`, once per message) against emitToLocalRooms
 * (server/realtime/local-broadcast.ts), for 1 and 5 messages at once. CPU
 * time (process.cpuUsage), not wall time, so it holds on a shared machine.
 * 500 sockets, read in a child process by Node's built-in WebSocket
 * speaking the Engine.IO/Socket.IO protocol by hand. Loopback only.
 *
 *   npm run bench -- push-write        (BENCH_SOCKETS, default 500; BENCH_ROUNDS, default 200)
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Server } from 'socket.io';
import { emitToLocalRooms } from '../server/realtime/local-broadcast';
import { benchSignalRow } from './lib/signal-row';

const SOCKETS = Number(process.env.BENCH_SOCKETS ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const ROW = benchSignalRow({ id: 0, symbol: 'PUSHB/USDT', candleTime: '2026-11-30T07:00:00.000Z' });

type ChildReport = { received: number };

function runClients(port: number) {
  let open = 0;
  let received = 0;
  for (let i = 0; i < SOCKETS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
    ws.onmessage = (event: MessageEvent<string>) => {
      const data = event.data;
      if (data.startsWith('42')) {
        JSON.parse(data.slice(2));
        received++;
      } else if (data === '2') ws.send('3');
      else if (data.startsWith('0')) ws.send('40');
      else if (data.startsWith('40') && ++open === SOCKETS) process.send!('ready');
    };
  }
  process.on('message', () => process.send!({ received } satisfies ChildReport, () => process.exit(0)));
}

async function main() {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'] });
  io.on('connection', (socket) => void socket.join('room'));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const child = fork(import.meta.filename, ['clients', String((http.address() as AddressInfo).port)], { execArgv: ['--import', 'tsx'] });
  await new Promise((resolve) => child.once('message', resolve));

  const ways = {
    'socket.io room emit': (rows: (typeof ROW)[]) => {
      for (const row of rows) io.local.to('room').emit('signal:new', row);
    },
    emitToLocalRooms: (rows: (typeof ROW)[]) => {
      emitToLocalRooms(
        io,
        rows.map((row) => ({ room: 'room', event: 'signal:new', payload: row })),
      );
    },
  };
  console.log(`push-write bench: ${SOCKETS} sockets, ${ROUNDS} rounds, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  let id = 0;
  const results: Record<string, number> = {};
  for (const batch of [1, 5]) {
    // Twice in alternation: the second pass of each is the one printed (JIT warm, same load for both).
    for (const pass of [0, 1]) {
      for (const [name, emit] of Object.entries(ways)) {
        const before = process.cpuUsage();
        for (let r = 0; r < ROUNDS; r++) {
          emit(Array.from({ length: batch }, () => ({ ...ROW, id: ++id })));
          // Every write completes between rounds, as between signals.
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const cpu = process.cpuUsage(before);
        const perSocket = (cpu.user + cpu.system) / ROUNDS / SOCKETS;
        if (pass === 1) {
          results[`${name} ×${batch}`] = perSocket;
          console.log(
            `  ${batch} message(s) per broadcast, ${name}: ${perSocket.toFixed(1)} µs CPU per socket ` +
              `(user ${(cpu.user / ROUNDS / SOCKETS).toFixed(1)}, system ${(cpu.system / ROUNDS / SOCKETS).toFixed(1)})`,
          );
        }
      }
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const report = await new Promise<ChildReport>((resolve) => {
    child.once('message', (m) => resolve(m as ChildReport));
    child.send('report');
  });
  const expected = 2 * 2 * ROUNDS * SOCKETS * (1 + 5);
  console.log(`  frames received ${report.received}/${expected}`);
  if (report.received !== expected) process.exitCode = 1;
  console.log(`BENCH_RESULT ${JSON.stringify({ bench: 'push-write', sockets: SOCKETS, usPerSocket: results })}`);
  await new Promise<void>((resolve) => io.close(() => resolve()));
}

if (process.argv[2] === 'clients') runClients(Number(process.argv[3]));
else
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
