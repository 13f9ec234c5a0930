import { describe, expect, it } from 'vitest';
import type { Candle } from '../domain';
import { simulateTrades, type TradeSignal } from './simulate';

const H = 3_600_000;
/** [open, high, low, close] per candle. */
function bars(rows: Array<[number, number, number, number]>): Candle[] {
  return rows.map(([open, high, low, close], i) => ({ openTime: i * H, open, high, low, close, volume: 1 }));
}
const flat: TradeSignal = { direction: 'flat', score: 0, stop: null, takeProfit: null };
const long = (stop = 90, takeProfit = 120, score = 50): TradeSignal => ({ direction: 'long', score, stop, takeProfit });
const short = (stop = 110, takeProfit = 80, score = 50): TradeSignal => ({ direction: 'short', score, stop, takeProfit });
const quiet = (n: number, price = 100) => bars(Array.from({ length: n }, () => [price, price + 1, price - 1, price] as [number, number, number, number]));
const NO_FEES = { feePct: 0, horizonCandles: 100 };

describe('simulateTrades', () => {
  it('counts a run of repeated signals as one position, entered at the open after the first', () => {
    const candles = bars([
      [100, 101, 99, 100],
      [101, 102, 100, 101],
      [102, 103, 101, 102],
      [103, 104, 102, 103],
      [104, 105, 103, 104],
    ]);
    const { trades } = simulateTrades(candles, [long(), long(), long(), long(), flat], NO_FEES);
    expect(trades).toHaveLength(1);
    expect(trades[0]).toMatchObject({ signalIndex: 0, entryIndex: 1, entryPrice: 101, exitReason: 'end', exitPrice: 104 });
  });

  it('does not re-enter after a stop while the same run goes on; a new run enters again', () => {
    const candles = bars([
      [100, 101, 99, 100],
      [100, 101, 89, 95], // stopped at 90
      [95, 96, 94, 95],
      [95, 96, 94, 95],
      [95, 96, 94, 95],
      [95, 96, 94, 95],
    ]);
    const calls = [long(), long(), long(), flat, long(80, 120), flat];
    const { trades } = simulateTrades(candles, calls, NO_FEES);
    expect(trades.map((t) => [t.entryIndex, t.exitReason])).toEqual([
      [1, 'stop'],
      [5, 'end'],
    ]);
  });

  it('charges the fee on both sides', () => {
    const { trades, equity } = simulateTrades(quiet(4), [long(), flat, flat, flat], { feePct: 0.1, horizonCandles: 2 });
    // Bought at 100 × 1.001, sold at 100 × 0.999: −0.2 %.
    expect(trades[0]!.exitReason).toBe('horizon');
    expect(trades[0]!.returnPct).toBeCloseTo(-0.2, 10);
    expect(equity.at(-1)).toBeCloseTo(0.998, 10);
  });

  it('closes at the stop when one candle reaches both the stop and the take-profit (pessimistic)', () => {
    const candles = bars([
      [100, 101, 99, 100],
      [100, 125, 85, 110],
    ]);
    const { trades } = simulateTrades(candles, [long(90, 120), flat], NO_FEES);
    expect(trades[0]).toMatchObject({ exitReason: 'stop', exitPrice: 90, returnPct: -10 });
    const shorts = simulateTrades(candles, [short(110, 88), flat], NO_FEES).trades;
    expect(shorts[0]).toMatchObject({ exitReason: 'stop', exitPrice: 110 });
  });

  it('fills a level the candle opened beyond at the open, not at the level', () => {
    const candles = bars([
      [100, 101, 99, 100],
      [100, 101, 99, 100],
      [85, 86, 80, 82], // gapped through the 90 stop
    ]);
    const { trades } = simulateTrades(candles, [long(), flat, flat], NO_FEES);
    expect(trades[0]).toMatchObject({ exitReason: 'stop', exitPrice: 85, exitIndex: 2 });
  });

  it('takes profit at the level', () => {
    const candles = bars([
      [100, 101, 99, 100],
      [100, 101, 99, 100],
      [100, 121, 99, 118],
    ]);
    expect(simulateTrades(candles, [long(), flat, flat], NO_FEES).trades[0]).toMatchObject({ exitReason: 'take_profit', exitPrice: 120, returnPct: 20 });
  });

  it('exits at the next open on an opposite call and reverses there', () => {
    const candles = bars([
      [100, 101, 99, 100],
      [100, 103, 99, 102],
      [104, 105, 103, 104],
      [103, 104, 100, 101],
    ]);
    const { trades } = simulateTrades(candles, [long(), short(130, 70), flat, flat], NO_FEES);
    expect(trades.map((t) => [t.direction, t.entryIndex, t.exitIndex, t.exitReason, t.exitPrice])).toEqual([
      ['long', 1, 2, 'signal', 104],
      ['short', 2, 3, 'end', 101],
    ]);
  });

  it('keeps a position through flat calls until its levels or the horizon', () => {
    const { trades } = simulateTrades(quiet(6), [long(), flat, flat, flat, flat, flat], { feePct: 0, horizonCandles: 3 });
    // Entered at candle 1; candles 1, 2, 3 held; out at the close of candle 3.
    expect(trades).toEqual([expect.objectContaining({ entryIndex: 1, exitIndex: 3, exitReason: 'horizon', exitPrice: 100 })]);
  });

  it('ignores calls before `from`, calls on the last candle and calls without usable levels', () => {
    expect(simulateTrades(quiet(3), [long(), flat, flat], { ...NO_FEES, from: 1 }).trades).toEqual([]);
    expect(simulateTrades(quiet(3), [flat, flat, long()], NO_FEES).trades).toEqual([]);
    expect(simulateTrades(quiet(3), [long(120, 110), flat, flat], NO_FEES).trades).toEqual([]);
  });

  it('compounds the equity curve and marks open positions at the close', () => {
    const candles = bars([
      [100, 101, 99, 100],
      [100, 111, 99, 110],
      [110, 111, 109, 110],
      [110, 111, 109, 110],
      [110, 122, 109, 121],
    ]);
    const calls = [long(90, 110), flat, long(100, 200), flat, flat];
    const { trades, equity } = simulateTrades(candles, calls, NO_FEES);
    expect(trades.map((t) => t.returnPct)).toEqual([10, 10]);
    expect(equity).toEqual([1, 1.1, 1.1, 1.1, expect.closeTo(1.21, 10)]);
  });
});
