import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors';
import { faults } from '../../test/mock-providers';
import { collector, prompt, routerFor, useMocks } from './router.test-helpers';

const mocks = useMocks();

describe('model router: happy path', () => {
  it('streams Grok first by default with provider-reported usage', async () => {
    mocks.xai.script({ text: 'BTC looks bullish today.', usage: { inputTokens: 321, outputTokens: 9 } });
    const c = collector();
    const result = await routerFor(mocks).stream({ prompt: prompt('hello there'), onToken: c.onToken });

    expect(result).toMatchObject({ provider: 'xai', model: 'grok-test', status: 'complete', text: 'BTC looks bullish today.' });
    expect(result.usage).toEqual({ inputTokens: 321, outputTokens: 9, estimated: false });
    expect(c.tokens.length).toBeGreaterThan(1);
    expect(c.text()).toBe(result.text);
    const body = mocks.xai.requests[0]!.body;
    expect(body).toMatchObject({ model: 'grok-test', stream: true, stream_options: { include_usage: true }, max_tokens: 800 });
    expect(body.messages[0]).toMatchObject({ role: 'system' });
    expect(body.messages.at(-1)).toEqual({ role: 'user', content: 'hello there' });
    expect(mocks.xai.requests[0]!.headers.authorization).toBe('Bearer xai-key');
    expect(mocks.openai.requests).toHaveLength(0);
  });
});

describe('model router: failures before the first token', () => {
  it('retries a 500 once on the same provider, then fails over, charging nothing for the failures', async () => {
    mocks.xai.script(faults.status(500), faults.status(502));
    mocks.openai.script({ text: 'GPT to the rescue.', usage: { inputTokens: 50, outputTokens: 5 } });
    const c = collector();
    const result = await routerFor(mocks).stream({ prompt: prompt('hello'), onToken: c.onToken });

    // Exactly two requests: the SDK's own retries are off, ours made one retry.
    expect(mocks.xai.requests).toHaveLength(2);
    expect(result).toMatchObject({ provider: 'openai', status: 'complete', text: 'GPT to the rescue.' });
    expect(c.text()).toBe('GPT to the rescue.');
    expect(result.usage).toEqual({ inputTokens: 50, outputTokens: 5, estimated: false });
    expect(result.attempts.map((a) => [a.provider, a.outcome, a.status])).toEqual([
      ['xai', 'failed', 500],
      ['xai', 'failed', 502],
      ['openai', 'complete', undefined],
    ]);
    expect(result.attempts[0]!.usage).toEqual({ inputTokens: 0, outputTokens: 0, estimated: false });
    // OpenAI proper gets max_completion_tokens.
    expect(mocks.openai.requests[0]!.body.max_completion_tokens).toBe(800);
  });

  it('fails over at once when Retry-After exceeds the cap and another provider exists', async () => {
    mocks.xai.script(faults.rateLimited(30));
    const result = await routerFor(mocks, { maxRetryAfterMs: 100 }).stream({ prompt: prompt('hello') });
    expect(mocks.xai.requests).toHaveLength(1);
    expect(result.provider).toBe('openai');
    expect(result.attempts[0]).toMatchObject({ reason: 'rate_limited', status: 429 });
  });

  it('honours Retry-After (capped) before retrying the only provider', async () => {
    mocks.xai.script(faults.rateLimited(5), { text: 'Second time lucky.' });
    const result = await routerFor(mocks, { only: ['xai'], maxRetryAfterMs: 150 }).stream({ prompt: prompt('hello') });
    expect(result).toMatchObject({ provider: 'xai', status: 'complete', text: 'Second time lucky.' });
    const gap = mocks.xai.requests[1]!.receivedAt - mocks.xai.requests[0]!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(140);
    expect(gap).toBeLessThan(2500);
  });

  it('treats Anthropic 529 as retryable and falls back after it', async () => {
    mocks.anthropic.script(faults.overloaded(), faults.overloaded());
    // "compare" routes Claude first.
    const result = await routerFor(mocks).stream({ prompt: prompt('compare the last two signals') });
    expect(result.route).toEqual({ kind: 'complex', order: ['anthropic', 'xai', 'openai'] });
    expect(mocks.anthropic.requests).toHaveLength(2);
    expect(result.attempts.slice(0, 2).map((a) => [a.reason, a.status])).toEqual([
      ['overloaded', 529],
      ['overloaded', 529],
    ]);
    expect(result).toMatchObject({ provider: 'xai', status: 'complete', text: 'Grok says hi.' });
  });

  it('fails over on an in-stream overloaded_error that comes before any text', async () => {
    mocks.anthropic.script(faults.overloaded(0), faults.overloaded(0));
    const c = collector();
    const result = await routerFor(mocks).stream({ prompt: prompt('explain why BTC dropped'), onToken: c.onToken });
    expect(result.attempts[0]).toMatchObject({ provider: 'anthropic', outcome: 'failed', reason: 'overloaded' });
    expect(result.provider).toBe('xai');
    expect(c.text()).toBe('Grok says hi.');
  });

  it('fails over on a connection reset before the first byte', async () => {
    mocks.xai.script(faults.reset(), faults.reset());
    const result = await routerFor(mocks).stream({ prompt: prompt('hello') });
    expect(result.attempts.slice(0, 2).map((a) => a.reason)).toEqual(['connection', 'connection']);
    expect(result.provider).toBe('openai');
  });

  it('does not retry a 401 on the same provider but fails over', async () => {
    mocks.xai.script(faults.status(401));
    const result = await routerFor(mocks).stream({ prompt: prompt('hello') });
    expect(mocks.xai.requests).toHaveLength(1);
    expect(result.attempts[0]).toMatchObject({ reason: 'auth', status: 401 });
    expect(result.provider).toBe('openai');
  });

  it('fails over when the first token is slower than the timeout, disconnecting the slow stream', async () => {
    mocks.xai.script(faults.slowFirstToken(5000));
    const started = Date.now();
    const c = collector();
    const result = await routerFor(mocks, { firstTokenTimeoutMs: 500 }).stream({ prompt: prompt('hello'), onToken: c.onToken });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(result.provider).toBe('openai');
    expect(result.attempts[0]).toMatchObject({ provider: 'xai', reason: 'first_token_timeout', usage: { inputTokens: 0, outputTokens: 0 } });
    expect(c.text()).toBe('GPT says hi.');
    // Not retried on the slow provider, and its stream was closed by us.
    expect(mocks.xai.requests).toHaveLength(1);
    expect(await mocks.xai.requests[0]!.ended).toBe('client-disconnected');
  });

  it('applies the first-token timeout to Anthropic even after message_start arrived', async () => {
    mocks.anthropic.script(faults.slowFirstToken(5000));
    const result = await routerFor(mocks, { firstTokenTimeoutMs: 500 }).stream({ prompt: prompt('analyze my risk') });
    expect(result.attempts[0]).toMatchObject({ provider: 'anthropic', reason: 'first_token_timeout' });
    expect(result.provider).toBe('xai');
  });

  it('throws provider_unavailable with Retry-After when every provider fails', async () => {
    for (const m of [mocks.xai, mocks.openai, mocks.anthropic]) m.setDefault(faults.status(503));
    try {
      const err = await routerFor(mocks, { retriesPerProvider: 0 })
        .stream({ prompt: prompt('hello') })
        .then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('provider_unavailable');
      expect(Number((err as AppError).headers['Retry-After'])).toBeGreaterThan(0);
      expect([mocks.xai, mocks.openai, mocks.anthropic].map((m) => m.requests.length)).toEqual([1, 1, 1]);
    } finally {
      mocks.xai.setDefault({ text: 'Grok says hi.' });
      mocks.openai.setDefault({ text: 'GPT says hi.' });
      mocks.anthropic.setDefault({ text: 'Claude says hi.' });
    }
  });
});

describe('model router: failures after the first token', () => {
  it('ends a cut OpenAI-style stream as incomplete, without failover or duplicated text, with estimated usage', async () => {
    mocks.xai.script(faults.cut('One two three four five six.', 3));
    const c = collector();
    const result = await routerFor(mocks).stream({ prompt: prompt('hello'), onToken: c.onToken });

    expect(result).toMatchObject({ provider: 'xai', status: 'incomplete', text: 'One two three' });
    expect(c.text()).toBe('One two three');
    expect(mocks.openai.requests).toHaveLength(0);
    expect(result.usage.estimated).toBe(true);
    expect(result.usage.outputTokens).toBe(countTokens('One two three'));
    expect(result.usage.inputTokens).toBeGreaterThan(100); // the system prompt, estimated
    expect(result.attempts).toHaveLength(1);
    expect(result.attempts[0]).toMatchObject({ outcome: 'incomplete', reason: 'connection' });
  });

  it('ends an Anthropic stream broken by an in-stream overload as incomplete; input tokens stay exact', async () => {
    mocks.anthropic.script({ ...faults.overloaded(2, 'Alpha beta gamma delta.'), usage: { inputTokens: 777, outputTokens: 99 } });
    const result = await routerFor(mocks).stream({ prompt: prompt('compare these') });
    expect(result).toMatchObject({ provider: 'anthropic', status: 'incomplete', text: 'Alpha beta' });
    expect(result.usage).toEqual({ inputTokens: 777, outputTokens: countTokens('Alpha beta'), estimated: true });
    expect(mocks.xai.requests).toHaveLength(0);
  });

  it('treats a stream that ends cleanly without a finish reason as incomplete', async () => {
    mocks.xai.script(faults.truncate('Short and then nothing more.', 2));
    const result = await routerFor(mocks).stream({ prompt: prompt('hello') });
    expect(result).toMatchObject({ status: 'incomplete', text: 'Short and' });
    expect(result.attempts[0]!.reason).toBe('truncated');
  });
});
