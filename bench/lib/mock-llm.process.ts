/**
 * Child process: the loopback OpenAI-wire mock (standing in for xAI Grok)
 * with a fixed first-token delay and token rate. In its own process so that
 * writing ~20k SSE chunks/s is not charged to the server being measured.
 *
 * Calls: start({ reply }) → { url }, lastRequestBody() → the last request's
 * JSON body, reset() → { requests, writeRateP50 } (count since the previous
 * reset, and the median rate at which it wrote an answer's tokens), close().
 */
import { startMockOpenAI, type MockOpenAI, type MockReply } from '../../test/mock-providers';
import { serveChild } from './child';
import { percentile } from './stats';

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
    // Its own pace, first to last token written, per answer: a mock starved of CPU writes slower than asked.
    const rates = (mock?.requests ?? [])
      .filter((r) => r.unitsSent > 1 && r.lastUnitAt! > r.firstUnitAt!)
      .map((r) => ((r.unitsSent - 1) * 1000) / (r.lastUnitAt! - r.firstUnitAt!));
    mock?.reset();
    return { requests, writeRateP50: rates.length > 0 ? percentile(rates.sort((a, b) => a - b), 50) : null };
  },
  async close() {
    await mock?.close();
    mock = undefined;
  },
});
