import { describe, expect, it } from 'vitest';
import { describeEdge, noEdgeSentence, ordinal, SCORE_MEANING, scoreBand, scoreMeaning, scoreWithMeaning, windowWords, type EdgeFacts } from './edge';

const HOUR = 3_600_000;

describe('edge in words', () => {
  it.each([
    [1000 * HOUR, '1h', 'the last 1,000 hours'],
    [90 * 60_000, '1m', 'the last 90 minutes'],
    [1400 * 5 * 60_000, '5m', 'the last 117 hours'],
    [1400 * 4 * HOUR, '4h', 'the last 233 days'],
    [6 * 24 * HOUR, '1d', 'the last 144 hours'],
    [1400 * 24 * HOUR, '1d', 'the last 1,400 days'],
  ])('%d ms of %s candles read "%s"', (span, timeframe, words) => {
    expect(windowWords(span, timeframe)).toBe(words);
  });

  it.each([
    [1, '1st'],
    [2, '2nd'],
    [3, '3rd'],
    [11, '11th'],
    [12.4, '12th'],
    [62, '62nd'],
    [100, '100th'],
  ])('ordinal %d → %s', (n, s) => expect(ordinal(n)).toBe(s));

  it('says the verdict and the numbers behind it in one sentence', () => {
    const edge: EdgeFacts = { verdict: 'none', trades: 382, expectancyPct: -0.04, coinFlipMedianPct: -0.19, percentile: 62, window: 'the last 1,000 hours' };
    expect(describeEdge('ETH/USDT', '1h', edge)).toBe(
      'on ETH/USDT 1h this strategy has not beaten chance over the last 1,000 hours (expectancy −0.04 % vs coin-flip median −0.19 %, 62nd percentile, 382 trades)',
    );
    expect(describeEdge('BTC/USDT', '1d', { ...edge, verdict: 'positive', expectancyPct: 1.14, percentile: 97, trades: 1 })).toBe(
      'on BTC/USDT 1d this strategy has beaten chance over the last 1,000 hours (expectancy +1.14 % vs coin-flip median −0.19 %, 97th percentile, 1 trade)',
    );
    expect(describeEdge('BTC/USDT', '1h', { ...edge, verdict: 'negative' })).toContain('has done worse than chance');
    expect(noEdgeSentence('SOL/USDT', '4h')).toBe('on SOL/USDT 4h this strategy has no measured track record yet, so it has not shown an edge over chance');
  });

  it.each([
    [0, '0 · no call'],
    [0.4, '0 · no call'],
    [1, '1 · weak'],
    [45, '45 · weak'],
    [49.4, '49 · weak'],
    [50, '50 · moderate'],
    [59, '59 · moderate'],
    [59.6, '60 · strong'],
    [100, '100 · strong'],
  ])('score %d reads "%s"', (score, text) => {
    expect(scoreWithMeaning(score)).toBe(text);
    expect(text.endsWith(scoreBand(Math.round(score)))).toBe(true);
  });

  it('says what a score means in one sentence a trader reads', () => {
    expect(SCORE_MEANING).toBe('The score is how many of 100 past calls like this one closed in profit after fees; 0 means no call.');
    expect(scoreMeaning(45.2)).toBe('Score 45: 45 of 100 past calls like this one closed in profit after fees.');
    expect(scoreMeaning(0)).toBe('Score 0: no call, the indicators do not agree enough.');
  });
});
