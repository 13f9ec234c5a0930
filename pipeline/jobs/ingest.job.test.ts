import { describe, expect, it } from 'vitest';
import type { Candle } from '../domain';
import { candlesToFetch, firstToAnalyse, lastClosedOpenTime } from './ingest.job';

const H = 3_600_000;
const T = Date.UTC(2024, 0, 1);

describe('which candles an ingest asks for', () => {
  it.each([
    ['mid-hour', T + 10 * H + 1_000, T + 9 * H],
    ['exactly on the hour: the candle that just opened is not closed', T + 10 * H, T + 9 * H],
    ['one ms before the hour', T + 10 * H - 1, T + 8 * H],
  ])('newest closed 1h candle, %s', (_, now, expected) => {
    expect(lastClosedOpenTime('1h', now)).toBe(expected);
  });

  it.each([
    ['nothing stored: the whole lookback', null, T + 9 * H, 300, 300],
    ['up to date: nothing', T + 9 * H, T + 9 * H, 300, 0],
    ['two candles behind', T + 7 * H, T + 9 * H, 300, 2],
    ['behind by more than the lookback: the lookback', T - 1000 * H, T + 9 * H, 300, 300],
    ['stored candle newer than the clock (clock skew): nothing', T + 10 * H, T + 9 * H, 300, 0],
  ])('%s', (_, latest, lastClosed, lookback, expected) => {
    expect(candlesToFetch(latest, lastClosed, '1h', lookback)).toBe(expected);
  });

  it.each([
    ['behind by more than the lookback: the whole gap', T - 1000 * H, 5000, 1009],
    ['behind by more than the bound: the bound, the newest', T - 9000 * H, 5000, 5000],
    ['a bound below the lookback: the lookback', T - 1000 * H, 100, 300],
  ])('with a gap bound, %s', (_, latest, maxGap, expected) => {
    expect(candlesToFetch(latest, T + 9 * H, '1h', 300, maxGap)).toBe(expected);
  });

  const candles = (times: number[]): Candle[] => times.map((h) => ({ openTime: T + h * H, open: 1, high: 1, low: 1, close: 1, volume: 1 }));
  it.each([
    ['never analysed: only the newest', [1, 2, 3, 4], null, 60, 3],
    ['the previous candle analysed: only the newest', [1, 2, 3, 4], T + 3 * H, 60, 3],
    ['four missed: all four, oldest first', [1, 2, 3, 4, 5], T + 1 * H, 60, 1],
    ['more missed than the bound: the newest `catchUp`', [1, 2, 3, 4, 5], T + 1 * H, 2, 3],
    ['analysed before the window: bounded the same way', [6, 7, 8], T, 2, 1],
    ['all analysed: none', [1, 2, 3], T + 3 * H, 60, 3],
  ])('candles to analyse, %s', (_, times, lastAnalysed, catchUp, expected) => {
    expect(firstToAnalyse(candles(times), lastAnalysed, catchUp)).toBe(expected);
  });
});
