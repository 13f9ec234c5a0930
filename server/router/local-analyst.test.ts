import { countTokens } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { buildPrompt, type MarketEntry, type PromptInput } from '../context';
import { composeAnalystAnswer } from './local-analyst.answer';
import { createModelRouter } from './router';
import { BTC_1H, NOW } from './router.test-helpers';

const ETH_4H: MarketEntry = {
  symbol: 'ETH/USDT',
  timeframe: '4h',
  signal: { direction: 'short', score: 61, entry: 3480.25, stop: 3560, takeProfit: null, candleTime: '2025-06-01T08:00:00Z' },
  risk: { regime: 'extreme', realizedVol: 1.1, atrPct: 4.5, drawdownPct: 12 },
  winRate30d: { winPct: null, trades: 0 },
};
const watchlist = [
  { symbol: 'BTC/USDT', timeframe: '1h' },
  { symbol: 'ETH/USDT', timeframe: '4h' },
];
const input = (userMessage: string, market: PromptInput['market'] = [BTC_1H, ETH_4H], symbols = watchlist): PromptInput => ({
  userMessage,
  symbols,
  market,
  now: NOW,
});

describe('composeAnalystAnswer', () => {
  it('states the latest BTC signal, levels, reward/risk, the missing edge and the regime', () => {
    expect(composeAnalystAnswer(input("what's the signal for BTC?"))).toBe(
      'BTC/USDT 1h: the latest signal is LONG (2 h ago), score 72 · strong, 72 of 100 past calls like it closed in profit after fees: entry 97,500.5, stop 96,000, take-profit 100,500, reward/risk 2.00. ' +
        'I have no measured edge for this strategy on BTC/USDT 1h, so treat its signals as unproven. ' +
        'Risk on BTC/USDT 1h: normal volatility regime (realized vol 45.0%, ATR 1.20%, drawdown 3.4%).' +
        '\n\nOffline analyst mode, not financial advice.',
    );
  });

  it.each([
    ['eth?', ['ETH/USDT 4h: the latest signal is SHORT', 'no take-profit', 'extreme volatility regime', 'size positions carefully', 'over 30 days no closed trades in that window']],
    ['tell me about DOGE/USDT', ['DOGE/USDT is not on your watchlist']],
    ['how are my coins doing', ['You follow 2 pairs', 'BTC/USDT (1h): LONG, score 72 · strong, 72 of 100 past calls like it closed in profit after fees, normal volatility, 30-day win rate 58.0% over 24 trades.', 'ETH/USDT (4h): SHORT, score 61 · strong, 61 of 100 past calls like it closed in profit after fees, extreme volatility.']],
  ])('%s', (message, fragments) => {
    const answer = composeAnalystAnswer(input(message));
    for (const f of fragments) expect(answer).toContain(f);
  });

  it('says honestly when market data is unavailable, naming the symbol and inventing nothing', () => {
    const answer = composeAnalystAnswer(input('signal for BTC?', 'unavailable'));
    expect(answer).toContain("I can't reach the market data right now, so I can't answer about BTC/USDT.");
    expect(answer).not.toMatch(/\d{2},\d{3}|LONG|score/);
  });

  it('says a followed symbol has no data yet, and guides a user without symbols', () => {
    expect(composeAnalystAnswer(input('BTC?', []))).toContain('I have no data for BTC/USDT yet');
    expect(composeAnalystAnswer(input('hello', [], []))).toContain("You don't follow any pairs yet.");
  });
});

describe('local analyst provider (offline router)', () => {
  it('is chosen when no key is configured, streams token by token, deterministically, with exact usage', async () => {
    const router = createModelRouter({ local: { tokenDelayMs: 1 } });
    const p = buildPrompt(input("what's the signal for BTC?"));
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const tokens: string[] = [];
      const result = await router.stream({ prompt: p, onToken: (d) => tokens.push(d) });
      runs.push({ result, tokens });
    }
    const [a, b] = runs;
    expect(a!.result).toMatchObject({ provider: 'local', model: 'zmarty-local-analyst', status: 'complete', route: { kind: 'offline', order: ['local'] } });
    expect(a!.result.text).toBe(composeAnalystAnswer(p.input));
    expect(a!.tokens.join('')).toBe(a!.result.text);
    expect(a!.tokens.length).toBeGreaterThan(20);
    expect(b!.tokens).toEqual(a!.tokens);
    expect(a!.result.usage).toEqual({ inputTokens: b!.result.usage.inputTokens, outputTokens: countTokens(a!.result.text), estimated: false });
    expect(a!.result.usage.inputTokens).toBeGreaterThan(100);
  });

  it('stops on abort and counts only what it emitted', async () => {
    const router = createModelRouter({ local: { tokenDelayMs: 5 } });
    const ac = new AbortController();
    const tokens: string[] = [];
    const result = await router.stream({
      prompt: buildPrompt(input('BTC?')),
      signal: ac.signal,
      onToken: (d) => {
        tokens.push(d);
        if (tokens.length === 5) ac.abort();
      },
    });
    expect(result.status).toBe('aborted');
    expect(tokens).toHaveLength(5);
    expect(result.text).toBe(tokens.join(''));
    expect(result.usage.outputTokens).toBe(5);
  });

  it('serves as last resort after the remote providers failed, when enabled', async () => {
    const router = createModelRouter({
      providers: { xai: { apiKey: 'k', baseURL: 'http://127.0.0.1:9/v1', model: 'grok-test' } },
      localAsLastResort: true,
      retriesPerProvider: 0,
      local: { tokenDelayMs: 0 },
    });
    const result = await router.stream({ prompt: buildPrompt(input('BTC?')) });
    expect(result.route.order).toEqual(['xai', 'local']);
    expect(result.attempts[0]).toMatchObject({ provider: 'xai', outcome: 'failed', reason: 'connection' });
    expect(result).toMatchObject({ provider: 'local', status: 'complete' });
  });
});
