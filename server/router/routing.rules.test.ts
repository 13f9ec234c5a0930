import { describe, expect, it } from 'vitest';
import type { MarketEntry, PromptInput } from '../context';
import { classifyRequest, orderProviders } from './routing.rules';

const btc: MarketEntry = { symbol: 'BTC/USDT', timeframe: '1h' };
const input = (userMessage: string, market: PromptInput['market'] = [btc]): PromptInput => ({
  userMessage,
  symbols: [{ symbol: 'BTC/USDT', timeframe: '1h' }],
  market,
  now: new Date(0),
});

describe('classifyRequest', () => {
  it.each([
    ['hi, how are you?', true, 'default'],
    ["what's the signal for BTC?", true, 'default'], // BTC is in the context: no tool needed
    ["what's the signal for BTC?", false, 'default'],
    ["what's the signal for DOGE?", true, 'tools'], // not in the context
    ["what's the signal for DOGE?", false, 'default'], // no tools offered
    ['show my watchlist', true, 'tools'],
    ['BTC win rate all-time?', true, 'tools'],
    ['compare BTC and ETH', true, 'complex'],
    ['BTC or SOL today?', false, 'complex'], // two symbols
    ['explain why the score dropped', true, 'complex'],
    ['Why is it short?', false, 'complex'],
    ['should I double my position?', false, 'complex'],
    ['x'.repeat(400), false, 'complex'],
    ['x'.repeat(399), false, 'default'],
  ] as const)('%s (tools: %s) → %s', (message, tools, kind) => {
    expect(classifyRequest(input(message), tools).kind).toBe(kind);
  });

  it('asks for tools when the market data is unavailable', () => {
    expect(classifyRequest(input('signal for BTC?', 'unavailable'), true)).toEqual({ kind: 'tools', reason: 'market data unavailable in context' });
  });
});

describe('orderProviders', () => {
  const all = ['xai', 'openai', 'anthropic'] as const;
  it.each([
    [all, 'default', undefined, ['xai', 'openai', 'anthropic']],
    [all, 'tools', undefined, ['openai', 'xai', 'anthropic']],
    [all, 'complex', undefined, ['anthropic', 'xai', 'openai']],
    [all, 'preferred', 'anthropic', ['anthropic', 'xai', 'openai']],
    [['xai', 'anthropic'], 'tools', undefined, ['xai', 'anthropic']],
    [['openai'], 'complex', undefined, ['openai']],
    [['local'], 'offline', undefined, ['local']],
    [['xai', 'local'], 'default', undefined, ['xai']],
  ] as const)('%j %s (prefer %s) → %j', (configured, kind, prefer, expected) => {
    expect(orderProviders(configured, kind, prefer)).toEqual(expected);
  });
});
