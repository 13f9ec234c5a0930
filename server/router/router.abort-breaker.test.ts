import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { faults } from '../../test/mock-providers';
import { collector, prompt, routerFor, useMocks } from './router.test-helpers';

const mocks = useMocks();

async function abortAfterTokens(n: number, run: (signal: AbortSignal, onToken: (d: string) => void) => Promise<unknown>) {
  const ac = new AbortController();
  const tokens: string[] = [];
  let abortedAt = 0;
  const result = await run(ac.signal, (d) => {
    tokens.push(d);
    if (tokens.length === n) {
      abortedAt = Date.now();
      ac.abort();
    }
  });
  return { result, tokens, abortedAt };
}

describe('model router: abort', () => {
  it('stops the OpenAI-style upstream request at once and estimates usage', async () => {
    mocks.xai.script({ text: 'one two three four five six seven eight nine ten', tokenDelayMs: 100, usage: { inputTokens: 999, outputTokens: 99 } });
    const router = routerFor(mocks);
    const { result, tokens, abortedAt } = await abortAfterTokens(3, (signal, onToken) => router.stream({ prompt: prompt('hello'), signal, onToken }));

    const req = mocks.xai.requests[0]!;
    expect(await req.ended).toBe('client-disconnected');
    // The server saw the disconnect right after the abort, long before the stream's natural end (~1 s).
    expect(req.endedAt! - abortedAt).toBeLessThan(400);
    expect(req.unitsSent).toBeLessThan(10);
    expect(tokens.join('')).toBe('one two three');
    expect(result).toMatchObject({ provider: 'xai', status: 'aborted', text: 'one two three' });
    const usage = (result as { usage: { inputTokens: number; outputTokens: number; estimated: boolean } }).usage;
    // The usage chunk never came: everything is estimated locally.
    expect(usage.estimated).toBe(true);
    expect(usage.outputTokens).toBe(countTokens('one two three'));
    expect(usage.inputTokens).toBeGreaterThan(100);
    expect(usage.inputTokens).not.toBe(999);
  });

  it('stops an Anthropic stream at once, keeping the exact input tokens from message_start', async () => {
    mocks.anthropic.script({ text: 'alpha beta gamma delta epsilon zeta eta theta', tokenDelayMs: 100, usage: { inputTokens: 4321, outputTokens: 50 } });
    const router = routerFor(mocks);
    const { result } = await abortAfterTokens(2, (signal, onToken) => router.stream({ prompt: prompt('compare it'), signal, onToken }));
    expect(await mocks.anthropic.requests[0]!.ended).toBe('client-disconnected');
    expect(result).toMatchObject({
      provider: 'anthropic',
      status: 'aborted',
      text: 'alpha beta',
      usage: { inputTokens: 4321, outputTokens: countTokens('alpha beta'), estimated: true },
    });
  });

  it('an abort while waiting for the first token neither fails over nor counts against the provider', async () => {
    mocks.xai.script(faults.slowFirstToken(2000));
    const router = routerFor(mocks, { breaker: { failureThreshold: 1 } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const result = await router.stream({ prompt: prompt('hello'), signal: ac.signal });
    expect(result).toMatchObject({ provider: 'xai', status: 'aborted', text: '' });
    expect(await mocks.xai.requests[0]!.ended).toBe('client-disconnected');
    expect(mocks.openai.requests).toHaveLength(0);
    expect(router.health().providers.find((p) => p.provider === 'xai')!.state).toBe('closed');
  });
});

describe('model router: circuit breaker', () => {
  it('opens after consecutive failures so the dead provider is skipped, then probes once after the cool-down', async () => {
    let clock = 1_000_000;
    const router = routerFor(mocks, { retriesPerProvider: 0, breaker: { failureThreshold: 2, cooldownMs: 5_000 }, now: () => clock });
    mocks.xai.setDefault(faults.status(500));
    try {
      for (let i = 0; i < 2; i++) expect((await router.stream({ prompt: prompt('hello') })).provider).toBe('openai');
      expect(mocks.xai.requests).toHaveLength(2);
      expect(router.health().providers[0]).toMatchObject({ provider: 'xai', state: 'open', consecutiveFailures: 2, retryInMs: 5_000 });
      expect(router.health().ok).toBe(true);

      // Open: no request reaches the dead provider.
      const skipped = await router.stream({ prompt: prompt('hello') });
      expect(mocks.xai.requests).toHaveLength(2);
      expect(skipped.attempts[0]).toMatchObject({ provider: 'xai', outcome: 'skipped', reason: 'circuit_open' });
      expect(skipped.provider).toBe('openai');

      clock += 5_000;
      expect(router.health().providers[0]!.state).toBe('half-open');
      // The probe fails: open again, for another cool-down.
      await router.stream({ prompt: prompt('hello') });
      expect(mocks.xai.requests).toHaveLength(3);
      expect(router.health().providers[0]!.state).toBe('open');

      clock += 5_000;
      mocks.xai.setDefault({ text: 'Grok is back.' });
      const back = await router.stream({ prompt: prompt('hello') });
      expect(back).toMatchObject({ provider: 'xai', text: 'Grok is back.' });
      expect(router.health().providers[0]).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    } finally {
      mocks.xai.setDefault({ text: 'Grok says hi.' });
    }
  });

  it('lets a single probe through while half-open', async () => {
    let clock = 0;
    const router = routerFor(mocks, { retriesPerProvider: 0, breaker: { failureThreshold: 1, cooldownMs: 1_000 }, now: () => clock });
    mocks.xai.script(faults.status(500));
    await router.stream({ prompt: prompt('hello') });
    clock += 1_000;
    mocks.xai.script({ text: 'Slow probe.', firstTokenDelayMs: 200 });
    const [probe, other] = await Promise.all([router.stream({ prompt: prompt('hello') }), router.stream({ prompt: prompt('hello') })]);
    expect(probe.provider).toBe('xai');
    expect(other.attempts[0]).toMatchObject({ provider: 'xai', outcome: 'skipped' });
    expect(other.provider).toBe('openai');
    expect(mocks.xai.requests).toHaveLength(2);
  });

  it('opens on the failure ratio in the window even without consecutive failures', async () => {
    const router = routerFor(mocks, { only: ['xai', 'openai'], retriesPerProvider: 0, breaker: { failureThreshold: 10, failureRatio: 0.5, minCalls: 4 } });
    mocks.xai.script(faults.status(500), { text: 'ok' }, faults.status(500), faults.status(500));
    for (let i = 0; i < 4; i++) await router.stream({ prompt: prompt('hello') });
    expect(router.health().providers[0]).toMatchObject({ state: 'open', callsInWindow: 4, failureRatio: 0.75 });
  });

  it('counts an answer cut after the first token as a failure of that provider', async () => {
    const router = routerFor(mocks, { breaker: { failureThreshold: 1 } });
    mocks.xai.script(faults.cut('a b c d', 1));
    const cut = await router.stream({ prompt: prompt('hello') });
    expect(cut.status).toBe('incomplete');
    expect(router.health().providers[0]!.state).toBe('open');
  });

  it('reports offline health with the local analyst only', () => {
    const router = routerFor(mocks, { only: [] });
    expect(router.health()).toEqual({
      ok: true,
      providers: [{ provider: 'local', model: 'zmarty-local-analyst', state: 'closed', consecutiveFailures: 0, failureRatio: 0, callsInWindow: 0 }],
    });
  });
});

describe('model router: streaming order', () => {
  it('never emits a token after a failover decision (no duplicates across providers)', async () => {
    mocks.xai.script(faults.status(503), faults.status(503));
    const c = collector();
    const result = await routerFor(mocks).stream({ prompt: prompt('hello'), onToken: c.onToken });
    expect(c.text()).toBe(result.text);
    expect(result.text).toBe('GPT says hi.');
  });
});
