import { describe, expect, it } from 'vitest';
import { candlesToFetch, lastClosedOpenTime } from './ingest.job';

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
});
