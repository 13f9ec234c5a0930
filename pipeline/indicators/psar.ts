/**
 * Parabolic SAR with the same rules as `trading-signals`' PSAR, written here
 * because the library's version deep-clones its state (structuredClone) on
 * every update, which alone costs about half of all 21 indicators over 300
 * candles. psar.test.ts checks it against the library value for value.
 *
 * One deliberate difference: on a flip to long the library nudges the SAR to
 * `low − 0.01` when it touches the low, an absolute offset that is wrong for
 * sub-cent coins; here it stays at the low.
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
      if (isLong) {
        // The SAR may not rise into the previous two candles' range.
        if (prePrev && low < next) {
          next = Math.min(next, prePrev.low, prev.low);
        } else if (prev.low < next) {
          next = prev.low;
        }
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
        if (prePrev && high > next) {
          next = Math.max(next, prePrev.high, prev.high);
        } else if (prev.high > next) {
          next = prev.high;
        }
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
