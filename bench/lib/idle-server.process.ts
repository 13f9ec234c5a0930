/**
 * Child process of bench/idle-sockets.ts: the real web server (`startServer`,
 * through the chat bench's setup: fresh databases, embedded auth, signed-up
 * users) alone in its process, so its RSS is the server's and nothing else's.
 *
 * Calls: start({ users }) → { url, tokens }, memory() → settled memory and
 * connected sockets, close().
 */
import { startChatBench, type ChatBench } from './chat-setup';
import { serveChild } from './child';
import { obtainGc, settledMemory } from './memory';

let bench: ChatBench | undefined;
const gc = obtainGc();

serveChild({
  async start(payload: { users: number }) {
    // No provider is called: idle sockets never ask anything. The URL only satisfies the config.
    bench = await startChatBench({ users: payload.users, maxUsers: payload.users, mockUrl: 'http://127.0.0.1:9/v1', log: () => undefined });
    return { url: bench.server.url, tokens: bench.users.map((u) => u.accessToken), gc: Boolean(gc) };
  },
  async memory() {
    const m = await settledMemory(gc);
    return { ...m, sockets: bench?.server.io.of('/').sockets.size ?? 0 };
  },
  async close() {
    await bench?.close();
    bench = undefined;
  },
});
