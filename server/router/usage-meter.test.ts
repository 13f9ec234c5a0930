import { describe, expect, it } from 'vitest';
import { createUsageMeter, estimatePromptTokens } from './usage-meter';

describe('usage meter', () => {
  it('never tokenizes the prompt of a round whose input the provider reported', () => {
    const meter = createUsageMeter();
    let counted = 0;
    meter.startRound(() => {
      counted++;
      return 999;
    });
    meter.addOutput('Hello there');
    meter.reportInput(120);
    meter.reportOutput(3);
    expect(meter.total()).toEqual({ inputTokens: 120, outputTokens: 3, estimated: false });
    expect(counted).toBe(0);
  });

  it('tokenizes an unreported round once, from the messages as they were sent, and marks the total estimated', () => {
    const meter = createUsageMeter();
    const messages = [{ role: 'user', content: 'What is the latest signal on BTC/USDT?' }];
    const expected = estimatePromptTokens({ messages });
    const sent = messages.slice();
    let counted = 0;
    meter.startRound(() => {
      counted++;
      return estimatePromptTokens({ messages: sent });
    });
    // A later round's messages must not change this round's estimate.
    messages.push({ role: 'assistant', content: 'a much longer reply that was appended after the request went out' });
    meter.addOutput('Long');
    const first = meter.total();
    expect(first).toMatchObject({ inputTokens: expected, estimated: true });
    expect(first.outputTokens).toBeGreaterThan(0);
    expect(meter.total()).toEqual(first);
    expect(counted).toBe(1);
  });
});
