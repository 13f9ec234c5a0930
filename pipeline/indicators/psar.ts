/**
 * Parabolic SAR (Wilder, "New Concepts in Technical Trading Systems", 1978),
 * incremental. Each candle:
 *   1. SAR ← SAR + AF · (EP − SAR)
 *   2. ALWAYS clamp it out of the previous two candles' range: in an uptrend
 *      no higher than their lows, in a downtrend no lower than their highs
 *      (Wilder's rule; our earlier version, like `trading-signals`, applied
 *      it only when the candle broke through, which let the SAR sit inside
 *      the last candles' range and flip on noise);
 *   3. a new extreme point (EP) raises AF by `step`, up to `max`;
 *   4. a candle that crosses the SAR reverses the trend: SAR ← EP, EP ← the
 *      candle's extreme on the new side, AF ← step.
 * The first value comes at the second candle, the trend starting whichever
 * way the median price moved. compute-indicators.oracle.test.ts checks it
 * against `technicalindicators`' PSAR (a textbook implementation) on real
 * candles. Written here rather than taken from `trading-signals`, whose PSAR
 * differs from Wilder (step 2) and deep-clones its state on every update.
 */
export interface HighLow {
  high: number;
  low: number;
}

export interface Psar {
  add(candle: HighLow): number | null;
  getResult(): number | null;
}

export function createPsar(step = 0.02, max = 0.2): Psar {
  let prev: HighLow | null = null;
  let prePrev: HighLow | null = null;
  let sar: number | null = null;
  let extreme = 0;
  let acceleration = step;
  let isLong = true;

  return {
    getResult: () => sar,
    add(candle) {
      const { high, low } = candle;
      if (prev === null) {
        prev = { high, low };
        return null;
      }
      if (sar === null) {
        // The first direction is whichever way the median price moved.
        isLong = (high + low) / 2 >= (prev.high + prev.low) / 2;
        extreme = isLong ? high : low;
        sar = isLong ? prev.low : prev.high;
        acceleration = step;
        prePrev = prev;
        prev = { high, low };
        return sar;
      }
      let next = sar + (extreme - sar) * acceleration;
      const before = prePrev ?? prev;
      if (isLong) {
        next = Math.min(next, prev.low, before.low);
        if (high > extreme) {
          extreme = high;
          acceleration = Math.min(max, acceleration + step);
        }
        if (low < next) {
          isLong = false;
          next = extreme;
          extreme = low;
          acceleration = step;
        }
      } else {
        next = Math.max(next, prev.high, before.high);
        if (low < extreme) {
          extreme = low;
          acceleration = Math.min(max, acceleration + step);
        }
        if (high > next) {
          isLong = true;
          next = extreme;
          extreme = high;
          acceleration = step;
        }
      }
      sar = next;
      prePrev = prev;
      prev = { high, low };
      return sar;
    },
  };
}
