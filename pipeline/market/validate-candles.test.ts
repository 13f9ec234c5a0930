import { describe, expect, it } from 'vitest';
import { captureLog } from './fixtures/loopback-server';
import { candleSchema, sanitizeCandles, selectWindow } from './validate-candles';

const M = 60_000;
const T = Date.UTC(2024, 0, 1, 12, 0);
const good = (i: number, over: Record<string, unknown> = {}) => ({ openTime: T + i * M, open: 100, high: 101, low: 99, close: 100.5, volume: 3, ...over });

describe('sanitizeCandles', () => {
  it.each([
    ['NaN close', { close: Number.NaN }],
    ['Infinity volume', { volume: Number.POSITIVE_INFINITY }],
    ['negative volume', { volume: -1 }],
    ['zero price', { low: 0 }],
    ['negative price', { open: -5 }],
    ['high below low', { high: 98 }],
    ['close above high', { close: 102 }],
    ['open below low', { open: 98.5 }],
    ['string price', { open: '100' }],
    ['missing field', { volume: undefined }],
    ['fractional openTime', { openTime: T + 0.5 }],
    ['misaligned openTime', { openTime: T + 1000 }],
  ])('skips and logs a candle with %s', (_name, over) => {
    const log = captureLog();
    const out = sanitizeCandles([good(0), good(1, over), good(2)], { source: 'test', symbol: 'BTC/USDT', timeframe: '1m', now: T + 10 * M, log });
    expect(out.map((c) => c.openTime)).toEqual([T, T + 2 * M]);
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]!.obj).toMatchObject({ source: 'test', symbol: 'BTC/USDT', index: 1 });
  });

  it.each([null, 'candle', 42, [1, 2, 3]])('skips a row that is not a candle at all: %j', (row) => {
    const log = captureLog();
    expect(sanitizeCandles([row, good(0)], { source: 't', symbol: 'X/Y', timeframe: '1m', now: T + M, log })).toHaveLength(1);
    expect(log.entries).toHaveLength(1);
  });

  it('sorts ascending, keeps the later duplicate and drops candles still open at `now`', () => {
    const out = sanitizeCandles([good(2), good(0), good(1), good(1, { close: 100.9 }), good(3)], {
      source: 't',
      symbol: 'X/Y',
      timeframe: '1m',
      now: T + 3 * M + 59_999, // candle 3 closes at T + 4m
    });
    expect(out.map((c) => [c.openTime, c.close])).toEqual([
      [T, 100.5],
      [T + M, 100.9],
      [T + 2 * M, 100.5],
    ]);
  });

  it('summarises instead of logging every row when a feed is badly broken', () => {
    const log = captureLog();
    sanitizeCandles(Array.from({ length: 50 }, (_, i) => good(i, { close: -1 })), { source: 't', symbol: 'X/Y', timeframe: '1m', now: T + 100 * M, log });
    expect(log.entries).toHaveLength(4);
    expect(log.entries[3]!.obj).toMatchObject({ skipped: 50 });
  });
});

describe('sanitizeCandles against its schema', () => {
  // The oracle: every row judged by candleSchema alone, the later duplicate kept, ascending.
  const bySchema = (rows: unknown[], now: number) => {
    const byTime = new Map<number, unknown>();
    for (const row of rows) {
      const parsed = candleSchema.safeParse(row);
      if (parsed.success && parsed.data.openTime % M === 0 && parsed.data.openTime + M <= now) byTime.set(parsed.data.openTime, parsed.data);
    }
    return [...byTime.values()].sort((a, b) => (a as { openTime: number }).openTime - (b as { openTime: number }).openTime);
  };
  const spoilers: Array<Record<string, unknown>> = [
    { close: Number.NaN }, { volume: Number.POSITIVE_INFINITY }, { volume: -0 }, { volume: -1e-9 }, { low: 0 }, { open: -5 },
    { high: 98 }, { close: 102 }, { open: 98.5 }, { open: '100' }, { volume: undefined }, { openTime: T + 0.5 }, { openTime: -M },
    { openTime: 2 ** 53 }, { openTime: T + 1000 }, { extra: 'kept out' }, { high: 100.5, close: 100.5, open: 100.5, low: 100.5 },
    { openTime: -0 }, { high: Number.MAX_VALUE }, { low: Number.MIN_VALUE },
  ];

  it('keeps exactly the candles the schema accepts, in order, for rows good, bad, shuffled and repeated', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 200; round++) {
      const rows: unknown[] = [];
      for (let i = 0; i < 30; i++) {
        const r = random();
        const at = round % 2 ? i : Math.floor(random() * 25);
        rows.push(r < 0.7 ? good(at, { close: 100 + random() }) : r < 0.95 ? good(at, spoilers[Math.floor(random() * spoilers.length)]) : [null, 'x', 1, []][i % 4]);
      }
      const now = T + Math.floor(random() * 30) * M;
      const out = sanitizeCandles(rows, { source: 't', symbol: 'X/Y', timeframe: '1m', now });
      expect(out).toEqual(bySchema(rows, now));
      // Only the six fields, as the schema returns them.
      for (const c of out) expect(Object.keys(c).sort()).toEqual(['close', 'high', 'low', 'open', 'openTime', 'volume']);
    }
  });
});

describe('selectWindow', () => {
  const candles = [0, 1, 2, 3, 4].map((i) => ({ ...good(i) }));
  it.each([
    [{ limit: 2 }, [3, 4]],
    [{ limit: 10 }, [0, 1, 2, 3, 4]],
    [{ limit: 2, endTime: T + 2 * M }, [1, 2]],
    [{ limit: 2, endTime: T + 2 * M + 1 }, [1, 2]],
    [{ limit: 0 }, []],
  ])('%j → candles %j', (opts, idx) => {
    expect(selectWindow(candles, opts).map((c) => (c.openTime - T) / M)).toEqual(idx);
  });
});

describe('the plain checks beside the schema', () => {
  it('keep exactly the rows the schema keeps, as the schema returns them', () => {
    const odd = [0, -0, -1, 1e-300, 0.5, 99, 100, 101, 1e308, Number.NaN, Infinity, -Infinity, '100', null, undefined, 2 ** 53, T + 0.5];
    const rows: unknown[] = [good(0, { extra: 'dropped' }), Object.create({ inherited: 1 })];
    for (const field of ['openTime', 'open', 'high', 'low', 'close', 'volume']) for (const v of odd) rows.push(good(0, { [field]: v }));
    for (const [high, low] of [[100, 100], [100.5, 100], [101, 100.5], [100.5, 99]]) rows.push(good(0, { high, low }));
    let kept = 0;
    for (const row of rows) {
      const parsed = candleSchema.safeParse(row);
      const out = sanitizeCandles([row], { source: 't', symbol: 'X/Y', timeframe: '1m', now: Number.MAX_SAFE_INTEGER });
      const expected = parsed.success && parsed.data.openTime % M === 0 ? [parsed.data] : [];
      expect(out, JSON.stringify(row)).toStrictEqual(expected);
      kept += out.length;
    }
    expect(kept).toBeGreaterThan(10);
  });
});
