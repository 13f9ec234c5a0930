/**
 * What the Socket.IO Postgres adapter adds to a room emit: two web instances
 * (the real server, in this process) on one chat database, one user with a
 * socket on each; instance A emits to the user's room and we time the
 * arrival on A's own socket (local delivery) and on B's (NOTIFY on the chat
 * database, B's LISTEN, B's socket). Emits are sequential, `--gap-ms` apart.
 *
 *   npx tsx bench/adapter.ts [--emits=300] [--gap-ms=20]
 *
 * Everything shares this process's event loop and the machine's cores, so
 * the difference between the two distributions is the adapter's cost.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { io as connectClient } from 'socket.io-client';
import { parseEnv } from '../common/env';
import { createLogger } from '../common/logger';
import { signApiKey } from '../common/secrets';
import { parseServerConfig } from '../server/config';
import { userRoom } from '../server/realtime/socket-auth';
import { startServer, type RunningServer } from '../server/server';
import { openBenchDatabases } from './lib/databases';
import { fmt, summarize } from './lib/stats';

async function main() {
  const get = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
  const emits = get('emits', 300);
  const gapMs = get('gap-ms', 20);
  const log = (m: string) => console.log(`[adapter] ${m}`);
  log(`load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; ${emits} emits, ${gapMs} ms apart`);
  const databases = await openBenchDatabases(log);
  const servers: RunningServer[] = [];
  try {
    const jwtSecret = 'adapter-secret-'.padEnd(48, 'x');
    const anonKey = await signApiKey(jwtSecret, 'anon');
    for (let i = 0; i < 2; i++) {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-adapter-'));
      servers.push(
        await startServer({
          env: parseEnv({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATA_DIR: dataDir, PUBLIC_URL: 'http://localhost:8080' }),
          config: parseServerConfig({ WEBHOOK_SECRET: 'adapter-webhook-secret-'.padEnd(40, 'w') }),
          log: createLogger({ level: 'silent' }),
          chatUrl: databases.chatUrl,
          tradingUrl: databases.tradingUrl,
          embeddedAuth: { jwtSecret, anonKey },
          passwordHash: { cost: 2 ** 10 },
        }),
      );
    }
    const [a, b] = servers as [RunningServer, RunningServer];
    const res = await fetch(`${a.url}/auth/v1/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', apikey: anonKey },
      body: JSON.stringify({ email: 'adapter@example.com', password: 'correct horse battery staple' }),
    });
    const { access_token: token, user } = (await res.json()) as { access_token: string; user: { id: string } };
    const sockets = await Promise.all(
      [a, b].map(
        (s) =>
          new Promise<ReturnType<typeof connectClient>>((resolve, reject) => {
            const socket = connectClient(s.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
            socket.once('connect', () => resolve(socket));
            socket.once('connect_error', reject);
          }),
      ),
    );
    const arrivals: number[][] = [[], []];
    let sentAt = 0;
    sockets.forEach((socket, i) => socket.on('credits:balance', () => arrivals[i]!.push(performance.now() - sentAt)));
    for (let n = 0; n < emits + 20; n++) {
      if (n === 20) arrivals.forEach((list) => (list.length = 0)); // warm-up discarded
      const before = arrivals.map((list) => list.length);
      sentAt = performance.now();
      a.io.to(userRoom(user.id)).emit('credits:balance', { balance: n });
      for (let i = 0; i < 200 && arrivals.some((list, k) => list.length === before[k]); i++) await new Promise((r) => setTimeout(r, 1));
      await new Promise((r) => setTimeout(r, gapMs));
    }
    for (const s of sockets) s.close();
    const same = summarize(arrivals[0]!);
    const other = summarize(arrivals[1]!);
    log(`same instance:  p50 ${fmt(same.p50, 2)} ms, p99 ${fmt(same.p99, 2)} ms (n=${same.count})`);
    log(`other instance: p50 ${fmt(other.p50, 2)} ms, p99 ${fmt(other.p99, 2)} ms (n=${other.count})`);
    log(`added by the adapter: p50 ${fmt(other.p50 - same.p50, 2)} ms, p99 ${fmt(other.p99 - same.p99, 2)} ms`);
    console.log('BENCH_RESULT ' + JSON.stringify({ bench: 'adapter', sameMs: same, otherMs: other, addedP50Ms: other.p50 - same.p50, addedP99Ms: other.p99 - same.p99 }));
  } finally {
    for (const s of servers) await s.close().catch(() => undefined);
    await databases.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
