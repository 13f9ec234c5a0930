/**
 * The moving parts of the 21 indicators, with `trading-signals`' (8.3)
 * arithmetic step for step — the same operations in the same order, so the
 * same values to the bit (compute-indicators.library.test.ts runs the library
 * beside them on real candles and compares every value at every candle) —
 * without its per-update bookkeeping (signal states, result objects, private
 * fields, exceptions for "not ready"), which made a 1,000-candle computation
 * cost ~6 ms (a StochasticOscillator update alone ~3 µs). The library stays
 * the reference; these are what the worker runs.
 *
 * Each part: `update(x)` returns the new value or null while warming up, as
 * the library's `update` does; `result` is the last value (library
 * `getResult()`), null before the first.
 */

/** Mean of a window summed from 0 in order (the library's getAverage). */
export function average(values: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return values.length ? sum / values.length : 0;
}

/** Appends to a window of at most `max` values (the library's pushUpdate without replace). */
function pushWindow<T>(window: T[], item: T, max: number): void {
  window.push(item);
  if (window.length > max) window.shift();
}

/** Simple moving average over the last `interval` values (library SMA). */
export function createSma(interval: number) {
  const values: number[] = [];
  const part = {
    result: null as number | null,
    values,
    update(x: number): number | null {
      pushWindow(values, x, interval);
      if (values.length !== interval) return null;
      return (part.result = average(values));
    },
  };
  return part;
}

/** Wilder's smoothing (library WSMA): the mean of the first `interval` values, then prev + (x − prev) · (1/interval). */
export function createWsma(interval: number) {
  const factor = 1 / interval;
  let count = 0;
  let sum = 0;
  const part = {
    result: null as number | null,
    update(x: number): number | null {
      if (part.result !== null) return (part.result = (x - part.result) * factor + part.result);
      // The library's inner SMA sums its full window from 0 in order: the same as summing as they come.
      count++;
      sum += x;
      if (count === interval) return (part.result = sum / interval);
      return null;
    },
  };
  return part;
}

/** Exponential moving average seeded with the first price (library EMA); `result` is null before `interval` prices. */
export function createEma(interval: number) {
  const k = 2 / (interval + 1);
  const keep = 1 - k;
  let count = 0;
  let raw: number | null = null;
  const part = {
    get result(): number | null {
      return count < interval ? null : raw;
    },
    get isStable(): boolean {
      return count >= interval;
    },
    /** The raw value, even before `interval` prices (what the library's update returns, and MACD uses). */
    update(price: number): number {
      count++;
      return (raw = price * k + (raw ?? price) * keep);
    },
  };
  return part;
}

export interface HighLowClose {
  high: number;
  low: number;
  close: number;
}

/** True range: high − low for the first candle, else the widest of it and the gaps to the previous close (library TR). */
export function createTrueRange() {
  let previousClose: number | null = null;
  return {
    update(c: HighLowClose): number {
      const highLow = c.high - c.low;
      const tr = previousClose === null ? highLow : Math.max(highLow, Math.abs(c.high - previousClose), Math.abs(c.low - previousClose));
      previousClose = c.close;
      return tr;
    },
  };
}

/** Lowest and highest of a window, as Math.min(...values) / Math.max(...values) give them (NaN propagates). */
export function lowestOf(values: readonly number[]): number {
  let m = Infinity;
  for (let i = 0; i < values.length; i++) m = Math.min(m, values[i]!);
  return m;
}
export function highestOf(values: readonly number[]): number {
  let m = -Infinity;
  for (let i = 0; i < values.length; i++) m = Math.max(m, values[i]!);
  return m;
}

export { pushWindow };
