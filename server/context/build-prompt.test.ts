import { describe, expect, it } from 'vitest';
import { buildPrompt, HISTORY_TURNS } from './build-prompt';
import { formatAge, formatPrice } from './market-format';
import type { MarketEntry, PromptInput } from './prompt.types';
import { findMentionedSymbols } from './symbol-mentions';

const now = new Date('2025-06-01T12:00:00Z');
const btc: MarketEntry = {
  symbol: 'BTC/USDT',
  timeframe: '1h',
  lastPrice: 97612.3,
  signal: {
    direction: 'long',
    score: 72,
    entry: 97500.5,
    stop: 96000,
    takeProfit: 100500,
    candleTime: '2025-06-01T11:00:00Z',
    reasons: [
      { indicator: 'rsi', vote: 'long', weight: 1, detail: 'RSI 38 rising' },
      { indicator: 'macd', vote: 'long', weight: 2, detail: 'MACD crossed up' },
      'junk',
    ],
  },
  risk: { regime: 'high', realizedVol: 0.8, atrPct: 2.5, drawdownPct: 7.25 },
  winRate30d: { winPct: 58, trades: 24, profitFactor: 1.6, expectancyPct: 0.42 },
  winRateAll: { winPct: 55.5, trades: 120 },
};
const base: PromptInput = { userMessage: 'signal for BTC?', symbols: [{ symbol: 'BTC/USDT', timeframe: '1h' }], market: [btc], now };

describe('buildPrompt', () => {
  it('puts time, rules, watchlist and one line per market entry in the system prompt', () => {
    const p = buildPrompt(base);
    expect(p.system).toContain('Current time: 2025-06-01T12:00:00.000Z.');
    expect(p.system).toContain("User's watchlist: BTC/USDT (1h).");
    expect(p.system).toContain(
      '- BTC/USDT 1h: last price 97,612.3; signal LONG (1 h ago), score 72 · strong, 72 of 100 past calls like it closed in profit after fees: entry 97,500.5, stop 96,000, take-profit 100,500 ' +
        '[reasons: macd: MACD crossed up; rsi: RSI 38 rising]; ' +
        'edge: on BTC/USDT 1h this strategy has no measured track record yet, so it has not shown an edge over chance; high volatility regime (realized vol 80.0%, ATR 2.50%, drawdown 7.3%); ' +
        '30-day win rate 58.0% over 24 trades, profit factor 1.60, expectancy 0.42% per trade; all-time win rate 55.5% over 120 trades.',
    );
    expect(p.system).toContain('Never invent prices');
    expect(p.system).not.toContain('Tools:');
    expect(p.messages).toEqual([{ role: 'user', content: 'signal for BTC?' }]);
    expect(p.input).toBe(base);
  });

  it('tells the model the data is unavailable and forbids guessing', () => {
    const p = buildPrompt({ ...base, market: 'unavailable' });
    expect(p.system).toContain('Market data: UNAVAILABLE');
    expect(p.system).toContain('tell the user the live data is temporarily unavailable');
    expect(p.system).not.toContain('97,500');
  });

  it.each([
    [{ symbols: [], market: [] }, ["User's watchlist: empty", 'Market data: none']],
    [{ market: [{ symbol: 'BTC/USDT', timeframe: '1h' }] }, ['BTC/USDT 1h: no signal yet; risk metrics not computed yet; no 30-day win rate yet.']],
    [{ market: [{ ...btc, signal: { ...btc.signal!, direction: 'flat' as const } }] }, ['signal FLAT (1 h ago), score 72 · strong, 72 of 100 past calls like it closed in profit after fees, no position suggested']],
    [{ market: [{ ...btc, winRate30d: { winPct: null, trades: 0 } }] }, ['30-day win rate no closed trades in that window']],
    [{ toolsAvailable: true }, ['Tools: get_signal(symbol), get_win_rate(symbol), list_my_symbols()']],
    [
      { market: [{ ...btc, edge: { verdict: 'none', trades: 382, expectancyPct: -0.04, coinFlipMedianPct: -0.19, percentile: 62, window: 'the last 1,000 hours' } }] },
      [
        'entry 97,500.5, stop 96,000, take-profit 100,500 [reasons: macd: MACD crossed up; rsi: RSI 38 rising]; edge: on BTC/USDT 1h this strategy has not beaten chance over the last 1,000 hours (expectancy −0.04 % vs coin-flip median −0.19 %, 62nd percentile, 382 trades);',
        'Never present a signal without it.',
      ],
    ],
    [
      { market: [{ ...btc, edge: { verdict: 'positive', trades: 64, expectancyPct: 1.14, coinFlipMedianPct: 0.2, percentile: 97, window: 'the last 1,400 days' } }] },
      ['edge: on BTC/USDT 1h this strategy has beaten chance over the last 1,400 days (expectancy +1.14 % vs coin-flip median +0.20 %, 97th percentile, 64 trades)'],
    ],
  ] as Array<[Partial<PromptInput>, string[]]>)('variant %#', (patch, fragments) => {
    const p = buildPrompt({ ...base, ...patch });
    for (const f of fragments) expect(p.system).toContain(f);
  });

  it('orders the watchlist and market by symbol then timeframe, and is deterministic', () => {
    const input: PromptInput = {
      ...base,
      symbols: [
        { symbol: 'ETH/USDT', timeframe: '1d' },
        { symbol: 'BTC/USDT', timeframe: '4h' },
        { symbol: 'BTC/USDT', timeframe: '15m' },
      ],
    };
    const p = buildPrompt(input);
    expect(p.system).toContain("User's watchlist: BTC/USDT (15m), BTC/USDT (4h), ETH/USDT (1d).");
    expect(buildPrompt(input)).toEqual(p);
  });

  it('keeps the last turns of history, truncating long ones', () => {
    const history = Array.from({ length: HISTORY_TURNS + 3 }, (_, i) => ({ role: i % 2 ? ('assistant' as const) : ('user' as const), content: `turn ${i}` }));
    history[history.length - 1] = { role: 'assistant', content: 'y'.repeat(5000) };
    const p = buildPrompt({ ...base, history });
    expect(p.messages).toHaveLength(HISTORY_TURNS + 1);
    expect(p.messages[0]!.content).toBe('turn 3');
    expect(p.messages.at(-2)!.content).toHaveLength(2002);
    expect(p.messages.at(-1)).toEqual({ role: 'user', content: 'signal for BTC?' });
  });
});

describe('formatting', () => {
  it.each([
    [97500.5, '97,500.5'],
    [97500.456, '97,500.46'],
    [3.14159, '3.1416'],
    [0.1234567, '0.123457'],
    [0.00001234, '0.00001234'],
  ])('formatPrice(%s) = %s', (v, s) => expect(formatPrice(v)).toBe(s));

  it.each([
    ['2025-06-01T11:59:30Z', 'just now'],
    ['2025-06-01T11:15:00Z', '45 min ago'],
    ['2025-06-01T09:00:00Z', '3 h ago'],
    ['2025-05-28T12:00:00Z', '4 d ago'],
    ['2025-06-02T12:00:00Z', 'just now'],
  ])('formatAge(%s) = %s', (iso, s) => expect(formatAge(iso, now)).toBe(s));
});

describe('findMentionedSymbols', () => {
  const followed = [{ symbol: 'BTC/USDC' }, { symbol: 'PEPE/USDT' }, { symbol: 'ONE/USDT' }];
  it.each([
    ["what's the signal for BTC?", [], ['BTC/USDT']],
    ["what's the signal for btc?", followed, ['BTC/USDC']],
    ['eth-usdt vs Solana', [], ['ETH/USDT', 'SOL/USDT']],
    ['PEPE and bitcoin', followed, ['PEPE/USDT', 'BTC/USDC']],
    ['BTC/USDT or btc', [], ['BTC/USDT']],
    ['one more question about link', followed, []],
    ['ONE looks strong', followed, ['ONE/USDT']],
    ['what is RSI?', [], []],
  ] as Array<[string, Array<{ symbol: string }>, string[]]>)('%s', (text, f, expected) => {
    expect(findMentionedSymbols(text, f)).toEqual(expected);
  });
});

describe('buildPrompt: change, clusters and credits for the model', () => {
  it('gives the model the 24 h change, the nearest clusters and the balance when known, and nothing when not', () => {
    const withFacts = buildPrompt({
      userMessage: 'hi',
      symbols: [{ symbol: 'BTC/USDT', timeframe: '1h' }],
      market: [{ ...btc, change24hPct: -1.234, clusters: [{ side: 'short', priceLow: 98_000, priceHigh: 98_400, strength: 0.8, source: 'estimated' }] }],
      account: { balance: 968, spent24h: 32, answers24h: 3, recent: [] },
      now,
    }).system;
    expect(withFacts).toContain('24 h change -1.23%');
    expect(withFacts).toContain('nearest liquidation clusters short 98,000–98,400 (strength 0.80)');
    expect(withFacts).toContain("User's credits: balance 968; in the last 24 h 3 answers cost 32 credits.");

    const without = buildPrompt({ userMessage: 'hi', symbols: [], market: [btc], now }).system;
    expect(without).not.toMatch(/24 h change|liquidation clusters|User's credits/);
  });
});
