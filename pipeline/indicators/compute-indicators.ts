/**
 * The 21 indicator values of a candle series, as `trading-signals` 8.3
 * computes them (its definitions and arithmetic, see indicator-parts.ts; the
 * library itself is the reference in compute-indicators.library.test.ts)
 * (incremental: each candle is fed once, in order, so a value at candle i can
 * only depend on candles 0..i — no look-ahead by construction).
 *
 * Units and conventions (null while an indicator is warming up, or when the
 * input makes it undefined, e.g. zero volume everywhere for MFI):
 *   rsi14          0..100, Wilder smoothing (the library default)
 *   macd, macd_signal, macd_hist   EMA 12/26, signal EMA 9, in price units (signal and
 *                  histogram from candle 34, once the signal EMA has 9 MACD values)
 *   ema20/50/200, sma20            price units
 *   bb_percent_b   (close − lower) / (upper − lower) of Bollinger(20, 2); <0 below, >1 above the bands
 *   bb_width       (upper − lower) / middle
 *   atr14          price units, Wilder smoothing
 *   adx14          0..100
 *   stoch_k        slow %K (14, 3), 0..100
 *   stoch_rsi      Stochastic RSI (14) of the RSI over 14 periods, 0..1
 *   cci20          CCI, typically −200..200
 *   mfi14          0..100
 *   obv_slope      (OBV_t − OBV_{t−14}) / Σ volume over the same 14 candles, −1..1
 *                  (scale-free: the share of the last 14 candles' volume that was "up" volume, net)
 *   williams_r     −100..0 (14)
 *   roc12          percent change over 12 candles (1.5 = +1.5 %)
 *   psar           Parabolic SAR (0.02, 0.2) per Wilder, price units (own implementation, see psar.ts)
 *   ao             Awesome Oscillator, SMA 5 − SMA 34 of the median price, price units
 */
import type { Candle, IndicatorValues } from '../domain';
import { average, createEma, createSma, createTrueRange, createWsma, highestOf, lowestOf, pushWindow } from './indicator-parts';
import { createPsar } from './psar';

const OBV_WINDOW = 14;

/** The longest period of the 21 (EMA200). */
export const LONGEST_INDICATOR_PERIOD = 200;
/**
 * Candles needed before the values match a full-history computation: an EMA
 * seeded with the SMA of its first `period` closes still carries
 * (1 − 2/(period+1))^(n − period) of that seed after n candles; at 3× the
 * period that is e^−4 ≈ 1.8 % of the seed's error (EMA200 then within 0.4 %
 * of a full-history value on the shared real candles; the live window,
 * 901–1,000 candles at CANDLE_LOOKBACK = 1000 (indicator-window.ts), brings
 * it below 0.05 %). The backtest starts
 * trading here. Every shorter indicator has forgotten its seed long before.
 */
export const INDICATOR_WARMUP_CANDLES = 3 * LONGEST_INDICATOR_PERIOD;

export interface IndicatorEngine {
  /** Feeds the next candle (ascending openTime). */
  push(candle: Candle): void;
  /** The 21 values as of the last candle pushed. */
  values(): IndicatorValues;
}

/**
 * The 21 indicators, incremental. Each is `trading-signals`' own definition
 * with the library's arithmetic (see indicator-parts.ts; the library is the
 * reference in compute-indicators.library.test.ts, equal to the bit): RSI,
 * MACD, EMA, SMA, BollingerBands, ATR, ADX, StochasticOscillator,
 * StochasticRSI, CCI, MFI, OBV, WilliamsR, ROC and AO with the parameters
 * documented above; PSAR is ours (psar.ts).
 */
export function createIndicatorEngine(): IndicatorEngine {
  // RSI(14), Wilder smoothing; the stochastic RSI reads the same RSI (the library runs a second, identical one).
  const avgGain = createWsma(14);
  const avgLoss = createWsma(14);
  let previousClose: number | null = null;
  let rsi: number | null = null;
  // MACD(12, 26, 9): the signal EMA starts with the 26th candle's MACD.
  const ema12 = createEma(12);
  const ema26 = createEma(26);
  const macdSignal = createEma(9);
  // Scalars, not a result object per candle: the engine runs ~1,000 candles a new watcher.
  let macd: number | null = null;
  let macdSignalValue: number | null = null;
  const ema20 = createEma(20);
  const ema50 = createEma(50);
  const ema200 = createEma(200);
  // SMA20 and the Bollinger middle are the same mean of the same 20 closes.
  const sma20 = createSma(20);
  let bandLower: number | null = null;
  let bandMiddle = 0;
  let bandUpper = 0;
  const trueRange = createTrueRange();
  const atr = createWsma(14);
  // ADX(14): the directional moves smoothed like the ATR, both fed from the first candle (the first moves are 0).
  const movesUp = createWsma(14);
  const movesDown = createWsma(14);
  const adx = createWsma(14);
  let previous: Candle | null = null;
  // Slow stochastic (14, 3, 3): reported once its %D has a value, as the library does.
  // The stochastic and Williams %R look at the same last 14 candles.
  const rangeCandles: Candle[] = [];
  const stochK = createSma(3);
  const stochD = createSma(3);
  let slowK: number | null = null;
  const rsiWindow: number[] = [];
  let stochRsi: number | null = null;
  // Typical prices of the last 20 candles (CCI), the last 15 of them with their volumes for the MFI.
  const typicalPrices: number[] = [];
  const flowVolumes: number[] = [];
  const cciMean = createSma(20);
  let cci: number | null = null;
  let mfi: number | null = null;
  let obv: number | null = null;
  let willr: number | null = null;
  const rocCloses: number[] = [];
  let roc: number | null = null;
  const aoShort = createSma(5);
  const aoLong = createSma(34);
  let ao: number | null = null;
  const psar = createPsar(0.02, 0.2); // Wilder's rules, see psar.ts
  // Ring buffers for the OBV slope: the last OBV_WINDOW + 1 OBV values and OBV_WINDOW volumes.
  const obvHistory: number[] = [];
  const volumes: number[] = [];
  let last: Candle | null = null;
  let count = 0;

  function pushRsi(close: number) {
    if (previousClose !== null) {
      const gain = close > previousClose ? close - previousClose : 0;
      const loss = close > previousClose ? 0 : previousClose - close;
      avgLoss.update(loss);
      avgGain.update(gain);
      if (avgGain.result !== null) {
        const l = avgLoss.result!;
        rsi = l === 0 ? 100 : 100 - 100 / (avgGain.result / l + 1);
        // The library's stochastic RSI skips a falsy RSI (exactly 0): so do we, to give its values.
        if (rsi) {
          pushWindow(rsiWindow, rsi, 14);
          if (rsiWindow.length === 14) {
            const min = lowestOf(rsiWindow);
            const max = highestOf(rsiWindow);
            stochRsi = max - min === 0 ? 100 : (rsi - min) / (max - min);
          }
        }
      }
    }
    previousClose = close;
  }

  function pushTrend(c: Candle) {
    const tr = trueRange.update(c);
    atr.update(tr);
    let up = 0;
    let down = 0;
    if (previous) {
      const higherHigh = c.high - previous.high;
      const lowerLow = previous.low - c.low;
      up = higherHigh < 0 || higherHigh < lowerLow ? 0 : higherHigh;
      down = lowerLow < 0 || lowerLow < higherHigh ? 0 : lowerLow;
    }
    movesUp.update(up);
    movesDown.update(down);
    if (previous && movesUp.result !== null) {
      const pdi = movesUp.result / atr.result!;
      const mdi = movesDown.result! / atr.result!;
      const sum = pdi + mdi;
      adx.update(sum === 0 ? 0 : (Math.abs(pdi - mdi) / sum) * 100);
    }
    previous = c;
  }

  function pushRanges(c: Candle) {
    pushWindow(rangeCandles, c, 14);
    if (rangeCandles.length === 14) {
      // Stochastic: Math.max/min over the window, as the library's Math.max(...highs).
      let highest = -Infinity;
      let lowest = Infinity;
      for (let i = 0; i < 14; i++) {
        highest = Math.max(highest, rangeCandles[i]!.high);
        lowest = Math.min(lowest, rangeCandles[i]!.low);
      }
      let divisor = highest - lowest;
      const fastK = ((c.close - lowest) * 100) / (divisor === 0 ? 1 : divisor);
      const k = stochK.update(fastK);
      if (k !== null && stochD.update(k) !== null) slowK = k;
      // Williams %R: the library's own comparisons (they differ from Math.max only for NaN, never stored).
      highest = rangeCandles[0]!.high;
      lowest = rangeCandles[0]!.low;
      for (let i = 1; i < 14; i++) {
        if (rangeCandles[i]!.high > highest) highest = rangeCandles[i]!.high;
        if (rangeCandles[i]!.low < lowest) lowest = rangeCandles[i]!.low;
      }
      divisor = highest - lowest;
      willr = divisor === 0 ? -100 : ((highest - c.close) / divisor) * -100;
    }
  }

  function pushFlows(c: Candle) {
    const typical = (c.high + c.low + c.close) / 3;
    pushWindow(typicalPrices, typical, 20);
    const mean = cciMean.update(typical);
    if (mean !== null) {
      const m = mean || average(typicalPrices);
      let deviation = 0;
      for (let i = 0; i < typicalPrices.length; i++) deviation += Math.abs(typicalPrices[i]! - m);
      cci = (typical - mean) / (0.015 * (deviation / typicalPrices.length));
    }
    pushWindow(flowVolumes, c.volume, 15);
    if (flowVolumes.length === 15) {
      let positive = 0;
      let negative = 0;
      const first = typicalPrices.length - 15;
      for (let i = 1; i < 15; i++) {
        const tp = typicalPrices[first + i]!;
        const before = typicalPrices[first + i - 1]!;
        const flow = tp * flowVolumes[i]!;
        if (tp > before) positive += flow;
        else if (tp < before) negative += flow;
      }
      const total = positive + negative;
      mfi = total === 0 ? 50 : (100 * positive) / total;
    }
    if (last) {
      obv = (obv ?? 0) + (c.close > last.close ? c.volume : c.close < last.close ? -c.volume : 0);
      obvHistory.push(obv);
      if (obvHistory.length > OBV_WINDOW + 1) obvHistory.shift();
    }
    volumes.push(c.volume);
    if (volumes.length > OBV_WINDOW) volumes.shift();
  }

  return {
    push(c) {
      count++;
      const close = c.close;
      pushRsi(close);
      const short = ema12.update(close);
      const long = ema26.update(close);
      if (count >= 26) {
        macd = short - long;
        macdSignalValue = macdSignal.update(macd);
      }
      ema20.update(close);
      ema50.update(close);
      ema200.update(close);
      const middle = sma20.update(close);
      if (middle !== null) {
        const m = middle || average(sma20.values);
        let squares = 0;
        for (const v of sma20.values) squares += (v - m) * (v - m);
        const sd = Math.sqrt(squares / sma20.values.length);
        bandLower = middle - sd * 2;
        bandMiddle = middle;
        bandUpper = middle + sd * 2;
      }
      pushWindow(rocCloses, close, 13);
      if (rocCloses.length === 13) roc = (close - rocCloses[0]!) / rocCloses[0]!;
      pushTrend(c);
      pushRanges(c);
      pushFlows(c);
      psar.add(c);
      const median = (c.low + c.high) / 2;
      const s = aoShort.update(median);
      const l = aoLong.update(median);
      if (l !== null) ao = s! - l;
      last = c;
    },

    values() {
      const out = noValues();
      if (!last || count === 0) return out;
      const close = last.close;

      out.rsi14 = finite(rsi);
      out.macd = finite(macd);
      // The signal EMA starts with the first MACD value; until it has seen
      // 9 of them (candle 34) it is not a 9-period EMA yet, so report it as warming up.
      if (macdSignal.isStable) {
        out.macd_signal = finite(macdSignalValue);
        out.macd_hist = macd === null || macdSignalValue === null ? null : finite(macd - macdSignalValue);
      }
      out.ema20 = finite(ema20.result);
      out.ema50 = finite(ema50.result);
      out.ema200 = finite(ema200.result);
      out.sma20 = finite(sma20.result);
      if (bandLower !== null) {
        const width = bandUpper - bandLower;
        // Flat prices collapse the bands: the close sits exactly on the middle.
        out.bb_percent_b = width > 0 ? finite((close - bandLower) / width) : 0.5;
        out.bb_width = bandMiddle > 0 ? finite(width / bandMiddle) : null;
      }
      out.atr14 = finite(atr.result);
      out.adx14 = finite(adx.result);
      out.stoch_k = finite(slowK);
      // The library reports 100 (on its 0..1 scale) when the RSI was flat over the window;
      // there is no position within a zero range, so call it neutral.
      out.stoch_rsi = stochRsi === null ? null : stochRsi > 1 ? 0.5 : finite(stochRsi);
      out.cci20 = finite(cci);
      out.mfi14 = finite(mfi);
      if (obvHistory.length === OBV_WINDOW + 1 && volumes.length === OBV_WINDOW) {
        const totalVolume = volumes.reduce((a, v) => a + v, 0);
        const delta = (obvHistory[OBV_WINDOW] ?? 0) - (obvHistory[0] ?? 0);
        out.obv_slope = totalVolume > 0 ? finite(delta / totalVolume) : 0;
      }
      out.williams_r = finite(willr);
      out.roc12 = roc === null ? null : finite(roc * 100);
      out.psar = finite(psar.getResult());
      out.ao = finite(ao);
      return out;
    },
  };
}

/** All 21 null, in INDICATOR_NAMES order (a literal: built once a candle in a walk-forward). */
function noValues(): IndicatorValues {
  return {
    rsi14: null,
    macd: null,
    macd_signal: null,
    macd_hist: null,
    ema20: null,
    ema50: null,
    ema200: null,
    sma20: null,
    bb_percent_b: null,
    bb_width: null,
    atr14: null,
    adx14: null,
    stoch_k: null,
    stoch_rsi: null,
    cci20: null,
    mfi14: null,
    obv_slope: null,
    williams_r: null,
    roc12: null,
    psar: null,
    ao: null,
  };
}

/** The 21 values for the LAST candle of the series. */
export function computeIndicators(candles: readonly Candle[]): IndicatorValues {
  const engine = createIndicatorEngine();
  for (const c of candles) engine.push(c);
  return engine.values();
}

/** The 21 values at every candle (element i uses candles 0..i only): for backtests and the bench. */
export function computeIndicatorSeries(candles: readonly Candle[]): IndicatorValues[] {
  const engine = createIndicatorEngine();
  return candles.map((c) => {
    engine.push(c);
    return engine.values();
  });
}

function finite(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
