/**
 * Child process of bench/idle-sockets.ts: opens authenticated socket.io-client
 * sockets (WebSocket only, as the web client connects first) and keeps them
 * idle. Several of these run at once so the clients' own descriptors and
 * memory stay out of the server's process.
 *
 * Calls: connect({ url, tokens, count }) → { connected, failed, firstError }, close().
 */
import { io as connect, type Socket } from 'socket.io-client';
import { serveChild } from './child';

const sockets: Socket[] = [];

function open(url: string, token: string): Promise<Socket> {
  const socket = connect(url, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 60_000 });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

serveChild({
  async connect(payload: { url: string; tokens: string[]; count: number; offset: number }) {
    let connected = 0;
    let failed = 0;
    let firstError: string | null = null;
    // 200 handshakes in flight at a time: enough to be quick, few enough not to time out on a loaded machine.
    for (let i = 0; i < payload.count; i += 200) {
      const chunk = Array.from({ length: Math.min(200, payload.count - i) }, (_, j) =>
        open(payload.url, payload.tokens[(payload.offset + i + j) % payload.tokens.length]!),
      );
      for (const r of await Promise.allSettled(chunk)) {
        if (r.status === 'fulfilled') {
          sockets.push(r.value);
          connected++;
        } else {
          failed++;
          firstError ??= r.reason instanceof Error ? r.reason.message : String(r.reason);
        }
      }
    }
    return { connected, failed, firstError, stillConnected: sockets.filter((s) => s.connected).length };
  },
  stillConnected() {
    return sockets.filter((s) => s.connected).length;
  },
  close() {
    for (const s of sockets.splice(0)) s.close();
  },
});
