import { describe, expect, it } from 'vitest';
import type { SignalRow } from '../../../common/events';
import {
  applySignalToOverview,
  chartLevels,
  doublingText,
  formatPrice,
  formatWinRate,
  isDirectionChange,
  keepWatched,
  labelledLevels,
  trackRecordLines,
  maxSignalId,
  mergeSignals,
  pctFromEntry,
  reasonsToList,
  toChartCandles,
  type OverviewItem,
} from './signals.logic';

function signal(id: number, symbol = 'BTC/USDT', timeframe = '1h'): SignalRow {
  return {
    id,
    symbol,
    timeframe,
    candleTime: '2025-01-01T00:00:00Z',
    direction: 'long',
    score: 0.7,
    entry: 100,
    stop: 95,
    takeProfit: 110,
    reasons: [],
    doubling: null,
    createdAt: '2025-01-01T00:00:01Z',
  };
}

describe('feed', () => {
  it('merges newest first, dedupes replays, caps the length', () => {
    const feed = mergeSignals([], [signal(1), signal(3)]);
    expect(mergeSignals(feed, [signal(2), signal(3)]).map((s) => s.id)).toEqual([3, 2, 1]);
    expect(mergeSignals(feed, [signal(5), signal(4)], 2).map((s) => s.id)).toEqual([5, 4]);
  });

  it('returns the same array when nothing comes in', () => {
    const feed = [signal(1)];
    expect(mergeSignals(feed, [])).toBe(feed);
  });

  it('maxSignalId over several lists', () => {
    expect(maxSignalId([], [])).toBeUndefined();
    expect(maxSignalId([signal(4)], [signal(9), signal(2)])).toBe(9);
  });
});

describe('overview', () => {
  const items: OverviewItem[] = [
    { symbol: 'BTC/USDT', timeframe: '1h', signal: signal(5), risk: null, winRate30d: null },
    { symbol: 'BTC/USDT', timeframe: '4h', signal: null, risk: null, winRate30d: null },
  ];

  it('updates only the matching pair and timeframe, only with a newer signal', () => {
    const next = applySignalToOverview(items, signal(6, 'BTC/USDT', '4h'));
    expect(next.map((i) => i.signal?.id ?? null)).toEqual([5, 6]);
    expect(applySignalToOverview(items, signal(4))).toBe(items);
    expect(applySignalToOverview(items, signal(7, 'ETH/USDT'))).toBe(items);
  });

  it.each([
    [null, 'no trades yet'],
    [{ winPct: null, trades: 0 }, 'no trades yet'],
    [{ winPct: 57.14, trades: 7 }, '57% of 7'],
  ])('formatWinRate(%j) = %s', (input, expected) => {
    expect(formatWinRate(input)).toBe(expected);
  });
});

describe('reasonsToList', () => {
  it('reads the pipeline shape', () => {
    expect(reasonsToList([{ indicator: 'rsi14', vote: 'long', weight: 1.5, detail: 'RSI 28 (oversold)' }])).toEqual([
      { label: 'rsi14', vote: 'long', detail: 'RSI 28 (oversold) (weight 1.50)' },
    ]);
  });

  it.each([
    [null, []],
    ['', []],
    ['plain text', [{ label: '', detail: 'plain text' }]],
    [['a', 2], [{ label: '', detail: 'a' }, { label: '', detail: '2' }]],
    [{ trend: 'up', rsi: 30 }, [{ label: 'trend', detail: 'up' }, { label: 'rsi', detail: '30' }]],
    [[{ vote: 'sideways', foo: 1 }], [{ label: '', vote: undefined, detail: '{"vote":"sideways","foo":1}' }]],
  ])('degrades gracefully for %j', (input, expected) => {
    expect(reasonsToList(input)).toEqual(expected);
  });
});

describe('chartLevels', () => {
  it('draws no entry, stop or take-profit line for a FLAT signal, only the clusters', () => {
    const clusters = [{ side: 'long' as const, priceLow: 90, priceHigh: 92, strength: 0.4 }];
    expect(chartLevels({ direction: 'flat', entry: 100, stop: 95, takeProfit: 110 }, clusters)).toEqual([{ price: 91, kind: 'liq_long', title: 'Liq long 40%' }]);
    expect(chartLevels({ direction: 'long', entry: 100, stop: 95, takeProfit: 110 }, []).map((l) => l.kind)).toEqual(['entry', 'stop', 'take_profit']);
  });

  it('draws entry, stop, take profit and the strongest clusters at their middle', () => {
    const levels = chartLevels({ entry: 100, stop: 95, takeProfit: null }, [
      { side: 'long', priceLow: 90, priceHigh: 92, strength: 0.4 },
      { side: 'short', priceLow: 110, priceHigh: 112, strength: 0.9 },
      { side: 'long', priceLow: 80, priceHigh: 82, strength: 0.1 },
      { side: 'short', priceLow: Number.NaN, priceHigh: 1, strength: 1 },
    ], 2);
    expect(levels).toEqual([
      { price: 100, kind: 'entry', title: 'Entry' },
      { price: 95, kind: 'stop', title: 'Stop' },
      { price: 111, kind: 'liq_short', title: 'Liq short 90%' },
      { price: 91, kind: 'liq_long', title: 'Liq long 40%' },
    ]);
  });
});

describe('formatting (the chat\'s formatter, common/format.ts)', () => {
  it.each([
    [98123.456, '98,123.46'],
    [1.23456789, '1.2346'],
    [0.0123456, '0.012346'],
    [0.00001234567, '0.0000123457'],
    [null, '—'],
    [Number.NaN, '—'],
  ])('formatPrice(%s) = %s', (value, expected) => {
    expect(formatPrice(value)).toBe(expected);
  });

  it.each([
    [100, 110, '+10.00%'],
    [100, 95, '-5.00%'],
    [100, null, ''],
  ])('pctFromEntry(%s, %s) = %s', (entry, level, expected) => {
    expect(pctFromEntry(entry, level)).toBe(expected);
  });
});

describe('chart data', () => {
  const c = (time: number, close: number) => ({ time, open: close, high: close, low: close, close, volume: 1 });

  it('sorts, keeps the last candle of a repeated time and drops broken rows', () => {
    const out = toChartCandles([c(3, 30), c(1, 10), c(3, 31), { ...c(2, 20), high: Number.NaN }]);
    expect(out.map((x) => [x.time, x.close])).toEqual([
      [1, 10],
      [3, 31],
    ]);
  });

  it.each([
    [{ recommended: true, blockedBy: null, detail: 'same direction, stronger score' }, 'Adding to the position is recommended: same direction, stronger score'],
    [{ recommended: false, blockedBy: 'cooldown', detail: '' }, 'Do not add to the position'],
    [null, null],
    ['yes', null],
    [{ detail: 'no flag' }, null],
  ])('doublingText(%j)', (input, expected) => {
    expect(doublingText(input)).toBe(expected);
  });
});

describe('track record card', () => {
  it('sets the strategy against the coin flip and buy-and-hold, with the win rate interval', () => {
    const lines = trackRecordLines({
      window: 'all',
      fromTime: '2024-01-01T00:00:00.000Z',
      toTime: '2024-02-11T16:00:00.000Z',
      candles: 1001,
      trades: 44,
      winRate: 52.27,
      winRateLow: 37.9,
      winRateHigh: 66.3,
      profitFactor: 1.31,
      expectancyPct: 0.418,
      maxDrawdownPct: 6.04,
      totalReturnPct: 19.6,
      buyHoldReturnPct: -3.25,
      coinFlip: { draws: 500, seed: 1, medianExpectancyPct: 0.096, p5: -0.3, p95: 0.5, percentile: 76.6 },
      edge: 'none',
      equity: [],
    });
    expect(Object.fromEntries(lines.map((l) => [l.label, l.value]))).toEqual({
      Trades: '44',
      'Win rate': '52% (95%: 38–66%)',
      'Per trade': '+0.42% vs coin flip +0.10%',
      'Beats coin flips': '77%',
      Return: '+19.6% vs hold -3.3%',
      'Max drawdown': '6.0%',
      'Profit factor': '1.31',
    });
  });
});

describe('alerts', () => {
  const dir = (id: number, direction: SignalRow['direction'], symbol = 'BTC/USDT', timeframe = '1h'): SignalRow => ({ ...signal(id, symbol, timeframe), direction });

  it('alert on the first signal of a pair and on a direction change, not on every FLAT refresh of the same pair and timeframe', () => {
    expect(isDirectionChange([], dir(1, 'flat'))).toBe(true);
    const feed = [dir(1, 'flat')];
    expect(isDirectionChange(feed, dir(2, 'flat'))).toBe(false);
    expect(isDirectionChange([dir(2, 'flat'), ...feed], dir(3, 'flat'))).toBe(false);
    expect(isDirectionChange([dir(2, 'flat'), ...feed], dir(3, 'long'))).toBe(true);
    expect(isDirectionChange([dir(3, 'long')], dir(4, 'long'))).toBe(false);
    expect(isDirectionChange([dir(3, 'long')], dir(4, 'short'))).toBe(true);
  });

  it('compares with the same pair and timeframe only, with the latest earlier signal, and never alerts a replay', () => {
    expect(isDirectionChange([dir(1, 'flat', 'ETH/USDT')], dir(2, 'flat'))).toBe(true);
    expect(isDirectionChange([dir(1, 'flat', 'BTC/USDT', '4h')], dir(2, 'flat'))).toBe(true);
    // The long at id 2 is the latest before 5; the newer flat at 9 (a replay out of order) is not "before".
    expect(isDirectionChange([dir(9, 'flat'), dir(2, 'long'), dir(1, 'flat')], dir(5, 'flat'))).toBe(true);
    expect(isDirectionChange([dir(5, 'long')], dir(5, 'long'))).toBe(false);
  });
});

describe('removed pairs', () => {
  it('drops cards and alerts of pairs no longer watched, by pair and timeframe, and keeps all while the list loads', () => {
    const list = [signal(1, 'BTC/USDT', '1h'), signal(2, 'BTC/USDT', '4h'), signal(3, 'ETH/USDT', '1h')];
    expect(keepWatched(list, [{ symbol: 'BTC/USDT', timeframe: '4h' }, { symbol: 'ETH/USDT', timeframe: '1h' }]).map((s) => s.id)).toEqual([2, 3]);
    expect(keepWatched(list, [])).toEqual([]);
    expect(keepWatched(list, null)).toBe(list);
    const all = [{ symbol: 'BTC/USDT', timeframe: '1h' }, { symbol: 'BTC/USDT', timeframe: '4h' }, { symbol: 'ETH/USDT', timeframe: '1h' }];
    expect(keepWatched(list, all)).toBe(list);
  });
});

describe('chart labels that never print over each other', () => {
  // 1 px per price unit, 0 at price 200: y = 200 − price.
  const y = (price: number) => 200 - price;
  it.each([
    ['levels far apart all keep their label', [100, 130, 60], [true, true, true]],
    ['a liquidation band 5 px from the entry loses its label; the entry keeps it', [100, 95, 105], [true, false, false]],
    ['the trade levels win over bands, whatever their order on screen', [100, 80, 120, 119, 81], [true, true, true, false, false]],
    ['exactly the minimum gap apart is enough', [100, 118], [true, true]],
  ] as const)('%s', (_name, prices, expected) => {
    const levels = prices.map((price) => ({ price }));
    expect(labelledLevels(levels, y).map((l) => l.label)).toEqual(expected);
  });

  it('keeps the label of a level whose position is unknown', () => {
    expect(labelledLevels([{ price: 100 }, { price: 101 }], () => null).map((l) => l.label)).toEqual([true, true]);
  });
});

