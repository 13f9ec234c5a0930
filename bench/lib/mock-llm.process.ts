/**
 * Child process: the loopback OpenAI-wire mock (standing in for xAI Grok)
 * with a fixed first-token delay and token rate. In its own process so that
 * writing ~20k SSE chunks/s is not charged to the server being measured.
 *
 * Calls: start({ reply }) → { url }, lastRequestBody() → the last request's
 * JSON body, reset() → { requests } (count since the previous reset), close().
 */
import { startMockOpenAI, type MockOpenAI, type MockReply } from '../../test/mock-providers';
import { serveChild } from './child';

let mock: MockOpenAI | undefined;

serveChild({
  async start(payload: { reply: MockReply }) {
    // A hosted provider keeps idle connections open far longer than the tests' 1 s. With 1 s, a loaded machine
    // whose gap between a stream's answers nears 1 s hits the keep-alive race (the server closes the socket as the
    // next request goes out: UND_ERR_SOCKET), the router counts a connection failure and its breaker opens for everyone.
    mock = await startMockOpenAI({ reply: payload.reply, keepAliveTimeoutMs: 60_000 });
    return { url: mock.url };
  },
  lastRequestBody() {
    const last = mock?.requests.at(-1);
    if (!last) throw new Error('no request recorded yet');
    return last.body;
  },
  reset() {
    // The mock records every request body; dropping them between phases keeps its memory flat.
    const requests = mock?.requests.length ?? 0;
    mock?.reset();
    return { requests };
  },
  async close() {
    await mock?.close();
    mock = undefined;
  },
});
