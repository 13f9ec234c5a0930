import { describe, expect, it } from 'vitest';
import { parseKlineCsv, parseOpenTime } from './kline-csv';

const T = Date.UTC(2024, 0, 1);

describe('parseOpenTime', () => {
  it.each([
    ['2024-01-01T00:00:00.000', T],
    ['2024-01-01T00:00:00Z', T],
    ['2024-01-01 01:00:00', T + 3_600_000],
    ['2024-01-01T02:00:00+02:00', T],
    [String(T), T],
    [String(T * 1000), T], // microseconds (Binance spot files from 2025)
    [String(T / 1000), T], // seconds
  ])('%s → %d', (text, ms) => {
    expect(parseOpenTime(text)).toBe(ms);
  });
});

describe('parseKlineCsv', () => {
  const candle = { openTime: T, open: 100, high: 110, low: 90, close: 105, volume: 12.5 };

  it('reads the research-dump shape: header, ISO times', () => {
    expect(parseKlineCsv('open_time,open,high,low,close,volume\n2024-01-01T00:00:00.000,100,110,90,105,12.5\n')).toEqual([candle]);
  });

  it('reads the data.binance.vision shape: no header, epoch ms, twelve columns, CRLF', () => {
    const row = `${T},100,110,90,105,12.5,${T + 3_599_999},1300,42,6,600,0\r\n`;
    expect(parseKlineCsv(row)).toEqual([candle]);
  });

  it('sorts rows by time', () => {
    const csv = `${T + 3_600_000},105,106,104,105,1\n${T},100,110,90,105,12.5\n`;
    expect(parseKlineCsv(csv).map((c) => c.openTime)).toEqual([T, T + 3_600_000]);
  });

  it.each([
    ['a bad number', `${T},100,110,90,abc,1`],
    ['high below the close', `${T},100,101,90,105,1`],
    ['too few columns', `${T},100,110,90`],
    ['a duplicate candle', `${T},100,110,90,105,1\n${T},100,110,90,105,1`],
  ])('rejects %s, naming the line', (_name, csv) => {
    expect(() => parseKlineCsv(csv)).toThrow(/line 1|two candles/);
  });
});
