import { describe, expect, it } from 'vitest';
import { buildPrompt, type AccountFacts, type ChatMessage, type MarketEntry, type PromptInput } from '../context';
import { createModelRouter } from './router';
import { composeAnalystAnswer } from './local-analyst.answer';
import { resolveQuestion } from './local-analyst.intents';

/**
 * The offline analyst answers the question asked, from the facts it is given
 * and nothing else. Each row: a question (with the conversation before it),
 * the facts the answer must state, and what it must not say (another
 * intent's answer, or a number that is not in the data).
 */
const NOW = new Date('2025-06-01T12:00:00Z');

const BTC: MarketEntry = {
  symbol: 'BTC/USDT',
  timeframe: '1h',
  lastPrice: 97_812.25,
  change24hPct: 2.3456,
  signal: {
    direction: 'long', score: 72, entry: 97_500.5, stop: 96_000, takeProfit: 100_500, candleTime: '2025-06-01T10:00:00Z',
    reasons: [
      { indicator: 'ema', vote: 1, weight: 2, detail: 'EMA20 above EMA50' },
      { indicator: 'rsi', vote: 1, weight: 1, detail: 'RSI 58 rising' },
    ],
    doubling: { recommended: false, blockedBy: 'volatility', detail: 'realised volatility 131 % is not below the 120 % limit' },
  },
  risk: { regime: 'normal', realizedVol: 0.45, atrPct: 1.2, drawdownPct: 3.4 },
  winRate30d: { winPct: 58, trades: 24, profitFactor: 1.6, expectancyPct: 0.42 },
  winRateAll: { winPct: 54.5, trades: 110 },
  edge: { verdict: 'none', trades: 41, expectancyPct: 0.05, coinFlipMedianPct: -0.2, percentile: 71, window: 'the last 1,000 hours' },
  clusters: [
    { side: 'short', priceLow: 98_900, priceHigh: 99_300, strength: 0.82, source: 'estimated' },
    { side: 'long', priceLow: 95_100, priceHigh: 95_600, strength: 0.64, source: 'estimated' },
  ],
};
const ETH: MarketEntry = {
  symbol: 'ETH/USDT',
  timeframe: '1h',
  lastPrice: 3_480.25,
  change24hPct: null,
  signal: { direction: 'short', score: 55, entry: 3_480.25, stop: 3_560, takeProfit: 3_300, candleTime: '2025-06-01T11:00:00Z', doubling: null },
  risk: { regime: 'extreme', realizedVol: 1.1, atrPct: 4.5, drawdownPct: 12 },
  winRate30d: { winPct: null, trades: 0 },
  edge: null,
  clusters: [],
};
const SOL: MarketEntry = {
  symbol: 'SOL/USDT',
  timeframe: '1h',
  lastPrice: 151.5,
  signal: {
    direction: 'long', score: 80, entry: 151.5, stop: 147, takeProfit: 160, candleTime: '2025-06-01T11:00:00Z',
    doubling: { recommended: true, blockedBy: null, detail: 'same long with score 64 → 80, vol 70 %, position 5 % → 10 %' },
  },
  risk: { regime: 'high', realizedVol: 0.7, atrPct: 2.1, drawdownPct: 6 },
  edge: { verdict: 'positive', trades: 52, expectancyPct: 0.31, coinFlipMedianPct: -0.18, percentile: 97, window: 'the last 1,000 hours' },
};
const ACCOUNT: AccountFacts = {
  balance: 968,
  spent24h: 32,
  answers24h: 3,
  recent: [
    { at: '2025-06-01T11:55:00Z', credits: 1, provider: 'local', voice: false },
    { at: '2025-06-01T11:00:00Z', credits: 29, provider: 'xai', voice: true },
  ],
};
const WATCHLIST = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'].map((symbol) => ({ symbol, timeframe: '1h' }));

const turns = (...pairs: Array<[string, string]>): ChatMessage[] =>
  pairs.flatMap(([q, a]) => [{ role: 'user' as const, content: q }, { role: 'assistant' as const, content: a }]);

const answer = (message: string, history: ChatMessage[] = [], overrides: Partial<PromptInput> = {}) =>
  composeAnalystAnswer({ userMessage: message, symbols: WATCHLIST, market: [BTC, ETH, SOL], account: ACCOUNT, now: NOW, history, ...overrides });

interface Row {
  name: string;
  question: string;
  history?: ChatMessage[];
  overrides?: Partial<PromptInput>;
  contains: string[];
  lacks: Array<string | RegExp>;
}

const rows: Row[] = [
  {
    name: 'price and 24 h change',
    question: 'what is the BTC price?',
    contains: ['BTC/USDT last closed at 97,812.25', '+2.35% over 24 hours'],
    lacks: ['liquidation', 'win rate', 'ETH/USDT'],
  },
  {
    name: 'price without a 24 h change says the change is missing',
    question: 'ETH price today',
    contains: ['ETH/USDT last closed at 3,480.25', "can't give the 24-hour change"],
    lacks: [/[+-]\d+\.\d+% over 24 hours/],
  },
  {
    name: 'signal with levels, reward/risk and the edge stated plainly',
    question: 'what is the signal on BTC?',
    contains: ['LONG (2 h ago), score 72 · strong, 72 of 100 past calls like it closed in profit after fees', 'entry 97,500.5', 'stop 96,000', 'take-profit 100,500', 'reward/risk 2.00',
      'On BTC/USDT 1h this strategy has not beaten chance over the last 1,000 hours', 'percentile 71', '41 trades'],
    lacks: ['liquidations at', 'Your balance'],
  },
  {
    name: 'a signal without a measured edge says so',
    question: 'signal for ETH',
    contains: ['SHORT (1 h ago), score 55 · moderate, 55 of 100 past calls like it closed in profit after fees', 'I have no measured edge for this strategy on ETH/USDT 1h', 'size positions carefully'],
    lacks: ['beaten chance'],
  },
  {
    name: 'edge question',
    question: 'does the SOL strategy beat a coin flip?',
    contains: ['On SOL/USDT 1h this strategy has beaten chance over the last 1,000 hours', 'expectancy +0.31% per trade', 'coin-flip median of -0.18%', 'percentile 97'],
    lacks: ['not beaten'],
  },
  {
    name: 'liquidation clusters near price',
    question: 'where are the big liquidation clusters on BTC',
    contains: ['around the last price 97,812.25', 'short liquidations at 98,900–99,300 (strength 0.82, 1.11% above the price)', 'long liquidations at 95,100–95,600 (strength 0.64, 2.26% below the price)', 'estimated from leverage tiers'],
    lacks: ['win rate', 'LONG (1 h ago), score'],
  },
  {
    name: 'no clusters stored',
    question: 'ETH liquidations?',
    contains: ['No liquidation clusters are stored for ETH/USDT 1h yet'],
    lacks: ['liquidations at'],
  },
  {
    name: 'win rate / track record',
    question: "what's my win rate on BTC",
    contains: ['over 30 days 58.0% over 24 trades, profit factor 1.60, expectancy 0.42% per trade', 'all time 54.5% over 110 trades', 'has not beaten chance'],
    lacks: ['liquidations at', 'Your balance'],
  },
  {
    name: 'track record with no trades says so',
    question: 'track record ETH',
    contains: ['over 30 days no closed trades in that window'],
    lacks: ['58.0%'],
  },
  {
    name: 'doubling: rules, and why not now',
    question: 'should I double my BTC position?',
    contains: ['Doubling is recommended only when every guardrail passes', 'doubling is not allowed now because volatility is too high',
      'realised volatility 131 % is not below the 120 % limit'],
    lacks: ['You follow', 'doubling is allowed now'],
  },
  {
    name: 'doubling allowed',
    question: 'can I double SOL?',
    contains: ['SOL/USDT 1h: doubling is allowed now', 'score 64 → 80', 'has beaten chance'],
    lacks: ['not allowed'],
  },
  {
    name: 'doubling not evaluated',
    question: 'should I double ETH',
    contains: ['the guardrails were not evaluated for the latest signal'],
    lacks: ['allowed now'],
  },
  {
    name: 'doubling with no pair covers the watchlist',
    question: 'should I double my position?',
    contains: ['Doubling is recommended only', 'BTC/USDT 1h: doubling is not allowed now', 'SOL/USDT 1h: doubling is allowed now'],
    lacks: ['You follow'],
  },
  {
    name: 'a real comparison of two pairs',
    question: 'Compare BTC and ETH',
    contains: ['Comparing BTC/USDT and ETH/USDT', 'BTC/USDT 1h: LONG, score 72 · strong, 72 of 100 past calls like it closed in profit after fees; reward/risk 2.00; normal volatility (realized vol 45.0%); 30-day win rate 58.0% over 24 trades',
      'ETH/USDT 1h: SHORT, score 55 · moderate, 55 of 100 past calls like it closed in profit after fees; reward/risk 2.26; extreme volatility (realized vol 110.0%)', 'They point different ways',
      'BTC/USDT has the stronger signal (score 72 vs 55)', 'ETH/USDT offers the better reward/risk (2.26 vs 2.00)', 'BTC/USDT is the calmer of the two',
      'edge: none over the last 1,000 hours', 'edge not measured'],
    lacks: ['Risk on BTC/USDT', /\n\nBTC\/USDT 1h: the latest signal/],
  },
  {
    name: 'two pairs with "or" is a comparison',
    question: 'BTC or SOL?',
    contains: ['Comparing BTC/USDT and SOL/USDT', 'SOL/USDT has the stronger signal (score 80 vs 72)', 'Both point the same way (LONG)'],
    lacks: [],
  },
  {
    name: 'balance and recent spend',
    question: "what's my balance?",
    contains: ['Your balance is 968 credits', '3 answers cost 32 credits', '1 credit 5 min ago (local)', '29 credits 1 h ago (xai, with voice)'],
    lacks: ['BTC/USDT', 'LONG'],
  },
  {
    name: 'balance unreadable says so',
    question: 'how many credits do I have',
    overrides: { account: null },
    contains: ["I couldn't read your credit balance"],
    lacks: [/\d+ credits/],
  },
  {
    name: 'the watchlist',
    question: 'show my watchlist',
    contains: ['You follow 3 pairs', 'BTC/USDT (1h): LONG, score 72 · strong, 72 of 100 past calls like it closed in profit after fees, normal volatility, 30-day win rate 58.0% over 24 trades.', 'ETH/USDT (1h): SHORT, score 55 · moderate, 55 of 100 past calls like it closed in profit after fees, extreme volatility.'],
    lacks: ['Doubling'],
  },
  {
    name: 'help',
    question: 'help',
    contains: ['what is the BTC price?', 'compare BTC and ETH', 'doubling rules', 'balance'],
    lacks: [/\d{2},\d{3}/],
  },
  {
    name: 'follow-up "and ETH?" keeps the previous question (price)',
    question: 'and ETH?',
    history: turns(['what is the BTC price?', 'BTC/USDT last closed at 97,812.25.']),
    contains: ['ETH/USDT last closed at 3,480.25'],
    lacks: ['BTC/USDT last closed', 'SHORT (1 h ago), score'],
  },
  {
    name: 'follow-up "and ETH?" keeps the previous question (liquidations)',
    question: 'and ETH?',
    history: turns(['where are the liquidation clusters on BTC', 'Nearest liquidation clusters on BTC/USDT …']),
    contains: ['No liquidation clusters are stored for ETH/USDT 1h yet'],
    lacks: ['98,900'],
  },
  {
    name: 'follow-up "why?" explains the signal discussed before',
    question: 'why?',
    history: turns(['signal on BTC?', 'BTC/USDT 1h: the latest signal is LONG …']),
    contains: ['The LONG on BTC/USDT 1h rests on: ema: EMA20 above EMA50; rsi: RSI 58 rising', 'normal volatility regime', 'has not beaten chance'],
    lacks: ['ETH/USDT', 'SOL/USDT'],
  },
  {
    name: 'follow-up "why not?" after a doubling question names the blocking guardrail',
    question: 'why not?',
    history: turns(['should I double BTC?', 'BTC/USDT 1h: doubling is not allowed now …']),
    contains: ['doubling is not allowed now because volatility is too high', 'realised volatility 131 %'],
    lacks: ['SOL/USDT'],
  },
  {
    name: 'follow-up without a pair keeps the pair: "what about the liquidation clusters?"',
    question: 'what about the liquidation clusters?',
    history: turns(['what is the ETH price', 'ETH/USDT last closed at 3,480.25.']),
    contains: ['No liquidation clusters are stored for ETH/USDT 1h yet'],
    lacks: ['BTC/USDT', '98,900'],
  },
  {
    name: '"compare with SOL" compares with the pair discussed before',
    question: 'compare with SOL',
    history: turns(['BTC signal?', 'BTC/USDT 1h: LONG …']),
    contains: ['Comparing BTC/USDT and SOL/USDT'],
    lacks: [],
  },
  {
    name: 'an open question about one pair gets its overview: price, signal, edge, risk and track record',
    question: 'What is the outlook for BTC today?',
    contains: ['BTC/USDT last closed at 97,812.25', '+2.35% over 24 hours', 'LONG (2 h ago), score 72 · strong, 72 of 100 past calls like it closed in profit after fees', 'has not beaten chance', 'normal volatility regime', 'over 30 days 58.0% over 24 trades'],
    lacks: ['ETH/USDT', 'liquidations at'],
  },
  {
    name: 'a pair not on the watchlist has no data, and nothing is invented',
    question: 'DOGE price',
    contains: ['DOGE/USDT is not on your watchlist, so I have no data for it'],
    lacks: [/\d+\.\d+/],
  },
  {
    name: 'market data unavailable: says so, invents nothing',
    question: 'signal for BTC?',
    overrides: { market: 'unavailable' },
    contains: ["I can't reach the market data right now, so I can't answer about BTC/USDT"],
    lacks: [/\d{2},\d{3}|LONG|score/],
  },
];

describe('local analyst answers the intent, from the data only', () => {
  it.each(rows)('$name: "$question"', ({ question, history, overrides, contains, lacks }) => {
    const text = answer(question, history, overrides);
    for (const fact of contains) expect(text).toContain(fact);
    for (const wrong of lacks) typeof wrong === 'string' ? expect(text).not.toContain(wrong) : expect(text).not.toMatch(wrong);
    expect(text).toMatch(/Offline analyst mode, not financial advice\.$/);
  });

  it('every figure it states is a data figure, or reward/risk or distance computed from data figures', () => {
    const text = rows.filter((r) => !r.overrides).map((r) => answer(r.question, r.history)).join('\n');
    const numbers: number[] = [];
    const collect = (v: unknown): void => {
      if (typeof v === 'number') numbers.push(v, v * 100);
      else if (typeof v === 'string') for (const m of v.replace(/,/g, '').match(/-?\d+(\.\d+)?/g) ?? []) numbers.push(Number(m));
      else if (v && typeof v === 'object') Object.values(v).forEach(collect);
    };
    collect([BTC, ETH, SOL, ACCOUNT]);
    for (const e of [BTC, ETH, SOL]) {
      const s = e.signal!;
      numbers.push(Math.abs(s.takeProfit! - s.entry) / Math.abs(s.entry - s.stop!));
      for (const c of e.clusters ?? []) numbers.push(((c.priceLow - e.lastPrice!) / e.lastPrice!) * 100, ((e.lastPrice! - c.priceHigh) / e.lastPrice!) * 100);
    }
    // Signs are written separately ("+2.35%", "-0.20%"): compare magnitudes.
    const allowed = new Set(numbers.map(Math.abs).flatMap((n) => [0, 1, 2].map((d) => n.toFixed(d)).concat(String(n))));
    for (const figure of text.match(/\d{1,3}(,\d{3})+(\.\d+)?|\d+\.\d+/g) ?? []) {
      expect(allowed.has(figure.replace(/,/g, '')), `figure ${figure}`).toBe(true);
    }
  });
});

describe('resolveQuestion', () => {
  it.each([
    ['Compare BTC and ETH', [], 'compare', ['BTC/USDT', 'ETH/USDT'], false],
    ['and ETH?', turns(['BTC win rate?', '…']), 'track_record', ['ETH/USDT'], true],
    ['why?', turns(['signal on SOL', '…']), 'why', ['SOL/USDT'], true],
    ['why not?', turns(['should I double ETH?', '…']), 'doubling', ['ETH/USDT'], true],
    ["what's my balance", turns(['BTC price', '…']), 'balance', [], false],
    ['hello', [], 'overview', [], false],
  ] as const)('%s → %s', (message, history, intent, symbols, followUp) => {
    expect(resolveQuestion(message, history, WATCHLIST)).toMatchObject({ intent, symbols, followUp });
  });
});

describe('local analyst provider reads the conversation from the prompt', () => {
  it('answers "and ETH?" from the turns the prompt carries, through the offline router', async () => {
    const router = createModelRouter({ local: { tokenDelayMs: 0 } });
    const history = turns(['what is the BTC price?', 'BTC/USDT last closed at 97,812.25.']);
    // The turns travel in the prompt's messages (as sent to any model), not only in input.history.
    const built = buildPrompt({ userMessage: 'and ETH?', symbols: WATCHLIST, market: [BTC, ETH, SOL], account: ACCOUNT, now: NOW });
    const prompt = { ...built, messages: [...history, ...built.messages] };
    const result = await router.stream({ prompt, onToken: () => undefined });
    expect(result.provider).toBe('local');
    expect(result.text).toContain('ETH/USDT last closed at 3,480.25');
    expect(result.text).not.toContain('SHORT (1 h ago), score');
  });
});
