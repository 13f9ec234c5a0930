import { describe, expect, it } from 'vitest';
import { faults } from '../../test/mock-providers';
import type { ToolExecutors } from './tools';
import { collector, prompt, routerFor, useMocks } from './router.test-helpers';

const mocks = useMocks();

/** A promise the test settles: the caller's "this answer is paid for". */
function gate() {
  let admit!: () => void;
  let refuse!: (reason: unknown) => void;
  const admitted = new Promise<void>((resolve, reject) => ((admit = resolve), (refuse = reject)));
  admitted.catch(() => undefined);
  return { admitted, admit, refuse };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * StreamRequest.admitted: the first upstream request of an answer may go out
 * before the caller has paid for it; nothing after it does.
 */
describe('a request sent before the answer is paid for', () => {
  it('goes out at once, and the answer completes once admitted', async () => {
    const g = gate();
    const c = collector();
    const result = routerFor(mocks, { only: ['xai'] }).stream({ prompt: prompt('hello'), admitted: g.admitted, onToken: c.onToken });
    await mocks.xai.waitForRequest(1, 2_000);
    g.admit();
    await expect(result).resolves.toMatchObject({ provider: 'xai', status: 'complete', text: 'Grok says hi.' });
    expect(c.text()).toBe('Grok says hi.');
  });

  it('retries on the same provider only once admitted', async () => {
    mocks.xai.script(faults.status(500));
    const g = gate();
    const result = routerFor(mocks, { only: ['xai'] }).stream({ prompt: prompt('hello'), admitted: g.admitted });
    await mocks.xai.waitForRequest(1, 2_000);
    // The retry's backoff is 5–20 ms here: without the gate it would be sent long before this.
    await settle(300);
    expect(mocks.xai.requests).toHaveLength(1);
    g.admit();
    await expect(result).resolves.toMatchObject({ provider: 'xai', status: 'complete' });
    expect(mocks.xai.requests).toHaveLength(2);
  });

  it('falls back to the next provider only once admitted', async () => {
    mocks.xai.script(faults.status(400, 'bad request'));
    const g = gate();
    const result = routerFor(mocks, { only: ['xai', 'openai'] }).stream({ prompt: prompt('hello'), admitted: g.admitted });
    await mocks.xai.waitForRequest(1, 2_000);
    await settle(300);
    expect(mocks.openai.requests).toHaveLength(0);
    g.admit();
    await expect(result).resolves.toMatchObject({ provider: 'openai', status: 'complete' });
  });

  it("sends a tool round's next request only once admitted (OpenAI wire and Anthropic wire)", async () => {
    const tools: ToolExecutors = { get_signal: async () => ({ symbol: 'BTC/USDT', direction: 'long' }) };
    for (const [name, mock] of [
      ['openai', mocks.openai],
      ['anthropic', mocks.anthropic],
    ] as const) {
      mock.script({ toolCalls: [{ name: 'get_signal', arguments: { symbol: 'BTC/USDT' } }] }, { text: 'BTC is long.' });
      const g = gate();
      const result = routerFor(mocks, { only: [name] }).stream({ prompt: prompt("what's the signal for BTC?"), tools, admitted: g.admitted });
      await mock.waitForRequest(1, 2_000);
      await settle(300);
      expect(mock.requests, name).toHaveLength(1);
      g.admit();
      await expect(result).resolves.toMatchObject({ provider: name, status: 'complete', text: 'BTC is long.' });
      expect(mock.requests, name).toHaveLength(2);
    }
  });

  it('sends nothing more once refused: the caller aborts, the stream ends aborted', async () => {
    mocks.xai.script({ toolCalls: [{ name: 'get_signal', arguments: { symbol: 'BTC/USDT' } }] });
    const g = gate();
    const abort = new AbortController();
    const tools: ToolExecutors = { get_signal: async () => ({ symbol: 'BTC/USDT' }) };
    const result = routerFor(mocks, { only: ['xai'] }).stream({ prompt: prompt('hello'), tools, admitted: g.admitted, signal: abort.signal, prefer: 'xai' });
    await mocks.xai.waitForRequest(1, 2_000);
    await settle(100);
    abort.abort();
    g.refuse(new Error('not granted'));
    await expect(result).resolves.toMatchObject({ status: 'aborted' });
    await settle(100);
    expect(mocks.xai.requests).toHaveLength(1);
  });

  it('changes nothing without a gate: a retry goes out at once', async () => {
    mocks.xai.script(faults.status(500));
    const result = await routerFor(mocks, { only: ['xai'] }).stream({ prompt: prompt('hello') });
    expect(result).toMatchObject({ provider: 'xai', status: 'complete' });
    expect(mocks.xai.requests).toHaveLength(2);
  });
});
