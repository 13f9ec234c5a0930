import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { countTokens } from 'gpt-tokenizer';
import { buildPrompt } from '../context/build-prompt';
import { createPromptTextCounter, createUsageMeter, estimatePromptTokens } from './usage-meter';

function realPrompt(now: Date, balance: number): string {
  return buildPrompt({
    userMessage: 'What is the latest signal on BTC/USDT?',
    symbols: [{ symbol: 'BTC/USDT', timeframe: '1h' }, { symbol: 'ETH/USDT', timeframe: '4h' }],
    market: [
      { symbol: 'BTC/USDT', timeframe: '1h', lastPrice: 97123.5, change24hPct: 1.23 },
      { symbol: 'ETH/USDT', timeframe: '4h', lastPrice: 3456.1, change24hPct: -0.4 },
    ],
    account: { balance, spent24h: 3, answers24h: 2, recent: [] },
    now,
    toolsAvailable: true,
    history: [],
  }).system;
}

describe('prompt token estimate', () => {
  it('counts a real prompt line by line never below its whole count and within 2 % of it', () => {
    const text = realPrompt(new Date('2026-11-30T10:00:00Z'), 100);
    const whole = countTokens(text);
    const estimate = createPromptTextCounter()(text);
    expect(estimate).toBeGreaterThanOrEqual(whole);
    expect(estimate).toBeLessThanOrEqual(whole * 1.02);
  });

  it('tokenizes only the lines it has not seen: the next answer re-counts its clock and balance lines', () => {
    const tokenized: string[] = [];
    const estimate = createPromptTextCounter((line) => {
      tokenized.push(line);
      return countTokens(line);
    });
    const first = realPrompt(new Date('2026-11-30T10:00:00Z'), 100);
    expect(estimate(first)).toBeGreaterThan(0);
    const lines = tokenized.length;
    tokenized.length = 0;
    const next = realPrompt(new Date('2026-11-30T10:00:07Z'), 97);
    // Counted from kept lines plus the two changed ones: the same as counting it afresh.
    expect(estimate(next)).toBe(createPromptTextCounter()(next));
    expect(tokenized).toEqual([expect.stringContaining('Current time: 2026-11-30T10:00:07'), expect.stringContaining('balance 97')]);
    expect(lines).toBeGreaterThan(10);
    // Asked again: nothing tokenized.
    tokenized.length = 0;
    estimate(next);
    expect(tokenized).toEqual([]);
  });

  it('keeps the lines it caches, not the prompts they came from', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const estimate = createPromptTextCounter(() => 1);
    const heapAfterGc = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = heapAfterGc();
    // 200 prompts of ~100 KB, each with a line of its own (as every answer's clock line is): 20 MB if a cached line held its prompt.
    for (let i = 0; i < 200; i++) estimate(`Current time: ${i} ${'·'.repeat(20)}\n${`${String(i).padStart(6, '0')} ${'x'.repeat(100_000)}`.slice(0, 100_000)}\n`);
    expect(heapAfterGc() - before).toBeLessThan(4 * 2 ** 20);
  });
});

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
