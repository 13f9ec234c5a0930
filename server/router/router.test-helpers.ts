import { afterAll, afterEach, beforeAll } from 'vitest';
/** Shared fixtures of the router tests: mocks for the three providers and a prompt. */
import { buildPrompt, type MarketEntry, type Prompt } from '../context';
import { startMockAnthropic, startMockOpenAI, type MockAnthropic, type MockOpenAI } from '../../test/mock-providers';
import { createModelRouter, type RouterOptions } from './router';

export const NOW = new Date('2025-06-01T12:00:00Z');

export const BTC_1H: MarketEntry = {
  symbol: 'BTC/USDT',
  timeframe: '1h',
  signal: { direction: 'long', score: 72, entry: 97500.5, stop: 96000, takeProfit: 100500, candleTime: '2025-06-01T10:00:00Z', reasons: [] },
  risk: { regime: 'normal', realizedVol: 0.45, atrPct: 1.2, drawdownPct: 3.4, candleTime: '2025-06-01T10:00:00Z' },
  winRate30d: { winPct: 58, trades: 24, profitFactor: 1.6, expectancyPct: 0.42 },
};

export function prompt(userMessage: string, market: MarketEntry[] | 'unavailable' = [BTC_1H]): Prompt {
  return buildPrompt({ userMessage, symbols: [{ symbol: 'BTC/USDT', timeframe: '1h' }], market, now: NOW });
}

export interface Mocks {
  xai: MockOpenAI;
  openai: MockOpenAI;
  anthropic: MockAnthropic;
  close(): Promise<void>;
}

export async function startMocks(): Promise<Mocks> {
  const [xai, openai, anthropic] = await Promise.all([
    startMockOpenAI({ apiKey: 'xai-key', reply: { text: 'Grok says hi.' } }),
    startMockOpenAI({ apiKey: 'openai-key', reply: { text: 'GPT says hi.' } }),
    startMockAnthropic({ apiKey: 'anthropic-key', reply: { text: 'Claude says hi.' } }),
  ]);
  return { xai, openai, anthropic, close: async () => void (await Promise.all([xai.close(), openai.close(), anthropic.close()])) };
}

/**
 * The three mocks for one test file: started before its tests, closed after,
 * their scripts and recorded requests cleared after each test. The returned
 * object is filled in by `beforeAll`.
 */
export function useMocks(): Mocks {
  const mocks = {} as Mocks;
  beforeAll(async () => {
    Object.assign(mocks, await startMocks());
  });
  afterAll(() => mocks.close());
  afterEach(() => {
    mocks.xai.reset();
    mocks.openai.reset();
    mocks.anthropic.reset();
  });
  return mocks;
}

/** A router over the mocks; pass `only` to configure a subset of providers. */
export function routerFor(mocks: Mocks, options: Partial<RouterOptions> & { only?: Array<'xai' | 'openai' | 'anthropic'> } = {}) {
  const only = options.only ?? ['xai', 'openai', 'anthropic'];
  return createModelRouter({
    providers: {
      xai: only.includes('xai') ? { apiKey: 'xai-key', baseURL: mocks.xai.url, model: 'grok-test' } : undefined,
      openai: only.includes('openai') ? { apiKey: 'openai-key', baseURL: mocks.openai.url, model: 'gpt-test' } : undefined,
      anthropic: only.includes('anthropic') ? { apiKey: 'anthropic-key', baseURL: mocks.anthropic.url, model: 'claude-test' } : undefined,
    },
    backoffBaseMs: 5,
    backoffMaxMs: 20,
    firstTokenTimeoutMs: 2_000,
    ...options,
  });
}

export function collector() {
  const tokens: string[] = [];
  return { tokens, onToken: (d: string) => void tokens.push(d), text: () => tokens.join('') };
}
