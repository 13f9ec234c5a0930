import { describe, expect, it } from 'vitest';
import { faults } from '../../test/mock-providers';
import { collector, prompt, routerFor, useMocks } from './router.test-helpers';

const mocks = useMocks();

describe('model router: the route an answer is priced for', () => {
  it('plans the provider the routing rule tries first, skipping one whose breaker is open', async () => {
    const router = routerFor(mocks, { breaker: { failureThreshold: 1, minCalls: 1, cooldownMs: 60_000 } });
    expect(router.plan({ prompt: prompt('hello there') })).toEqual({ provider: 'xai', model: 'grok-test', kind: 'default' });
    expect(router.plan({ prompt: prompt('why is BTC up?') })).toEqual({ provider: 'anthropic', model: 'claude-test', kind: 'complex' });
    // Grok fails twice (its breaker opens); the next plan is GPT.
    mocks.xai.script(faults.status(500), faults.status(500));
    await router.stream({ prompt: prompt('hello') });
    expect(router.plan({ prompt: prompt('hello there') })).toMatchObject({ provider: 'openai' });
  });

  it('asks for a budget before each provider it tries and sends that cap upstream', async () => {
    mocks.xai.script(faults.status(500), faults.status(500));
    mocks.openai.script({ text: 'Short answer.', usage: { inputTokens: 50, outputTokens: 3 } });
    const asked: string[] = [];
    const result = await routerFor(mocks).stream({
      prompt: prompt('hello'),
      maxOutputTokens: 1024,
      budgetFor: async (route) => {
        asked.push(route.provider);
        return route.provider === 'xai' ? 700 : 300;
      },
    });
    expect(asked).toEqual(['xai', 'openai']);
    expect(mocks.xai.requests.map((r) => r.body.max_tokens)).toEqual([700, 700]);
    expect(mocks.openai.requests[0]!.body.max_completion_tokens).toBe(300);
    expect(result).toMatchObject({ provider: 'openai', status: 'complete', text: 'Short answer.' });
  });

  it('skips a provider the caller cannot pay for, and fails with insufficient_credits when none is left', async () => {
    mocks.xai.script(faults.status(500), faults.status(500));
    const c = collector();
    const stream = routerFor(mocks, { only: ['xai', 'anthropic'] }).stream({
      prompt: prompt('hello'),
      onToken: c.onToken,
      budgetFor: async (route) => (route.provider === 'anthropic' ? undefined : 500),
    });
    await expect(stream).rejects.toMatchObject({ code: 'insufficient_credits' });
    expect(mocks.anthropic.requests).toHaveLength(0);
    expect(c.text()).toBe('');
  });
});
