/**
 * The 21 indicator values of a candle series, computed with `trading-signals`
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
import {
  ADX,
  AO,
  ATR,
  BollingerBands,
  CCI,
  EMA,
  MACD,
  MFI,
  OBV,
  ROC,
  RSI,
  SMA,
  StochasticOscillator,
  StochasticRSI,
  WilliamsR,
} from 'trading-signals';
import { INDICATOR_NAMES, type Candle, type IndicatorValues } from '../domain';
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

/**
 * The indicators whose value depends on their last few candles only (a moving
 * window, no smoothing carried from earlier candles): SMA20, Bollinger,
 * stochastic %K, CCI, MFI, OBV slope, Williams %R, ROC and AO. The longest
 * window among them is AO's SMA 34, so they need no more candles than this;
 * fed more, they give the same values (OBV's running total aside, which
 * differs in rounding only).
 */
export const LONGEST_WINDOWED_PERIOD = 34;

export interface IndicatorEngineOptions {
  /**
   * Open time of the first candle the windowed indicators are fed; the
   * candles before it go to the smoothed ones only (EMA, MACD, RSI and
   * stochastic RSI, ATR, ADX, SAR), which need the long warm-up. Default: all.
   */
  windowedFrom?: number;
}

export interface IndicatorEngine {
  /** Feeds the next candle (ascending openTime). */
  push(candle: Candle): void;
  /** The 21 values as of the last candle pushed. */
  values(): IndicatorValues;
}

export function createIndicatorEngine(options: IndicatorEngineOptions = {}): IndicatorEngine {
  const windowedFrom = options.windowedFrom ?? Number.NEGATIVE_INFINITY;
  const rsi = new RSI(14);
  const macdSignal = new EMA(9);
  const macd = new MACD(new EMA(12), new EMA(26), macdSignal);
  const ema20 = new EMA(20);
  const ema50 = new EMA(50);
  const ema200 = new EMA(200);
  const sma20 = new SMA(20);
  const bb = new BollingerBands(20, 2);
  const atr = new ATR(14);
  const adx = new ADX(14);
  const stoch = new StochasticOscillator({ kPeriod: 14, kSlowingPeriod: 3, dPeriod: 3 });
  const stochRsi = new StochasticRSI(14);
  const cci = new CCI(20);
  const mfi = new MFI(14);
  const obv = new OBV(2);
  const willr = new WilliamsR(14);
  const roc = new ROC(12);
  const psar = createPsar(0.02, 0.2); // Wilder's rules, see psar.ts
  const ao = new AO(5, 34);
  // Ring buffers for the OBV slope: the last OBV_WINDOW + 1 OBV values and OBV_WINDOW volumes.
  const obvHistory: number[] = [];
  const volumes: number[] = [];
  let last: Candle | null = null;
  let count = 0;

  return {
    push(c) {
      count++;
      last = c;
      rsi.add(c.close);
      macd.add(c.close);
      ema20.add(c.close);
      ema50.add(c.close);
      ema200.add(c.close);
      stochRsi.add(c.close);
      atr.add(c);
      adx.add(c);
      psar.add(c);
      if (c.openTime < windowedFrom) return;
      sma20.add(c.close);
      bb.add(c.close);
      roc.add(c.close);
      stoch.add(c);
      cci.add(c);
      mfi.add(c);
      willr.add(c);
      ao.add(c);
      const o = obv.add(c);
      if (o !== null) {
        obvHistory.push(o);
        if (obvHistory.length > OBV_WINDOW + 1) obvHistory.shift();
      }
      volumes.push(c.volume);
      if (volumes.length > OBV_WINDOW) volumes.shift();
    },

    values() {
      if (!last || count === 0) return Object.fromEntries(INDICATOR_NAMES.map((n) => [n, null])) as IndicatorValues;
      const close = last.close;
      const m = macd.getResult();
      const bands = bb.getResult();
      const width = bands ? bands.upper - bands.lower : 0;
      const st = stoch.getResult();
      // The library reports 100 (on its 0..1 scale) when the RSI was flat over the window;
      // there is no position within a zero range, so call it neutral.
      const sr = stochRsi.getResult();
      let obvSlope: number | null = null;
      if (obvHistory.length === OBV_WINDOW + 1 && volumes.length === OBV_WINDOW) {
        const totalVolume = volumes.reduce((a, v) => a + v, 0);
        const delta = (obvHistory[OBV_WINDOW] ?? 0) - (obvHistory[0] ?? 0);
        obvSlope = totalVolume > 0 ? finite(delta / totalVolume) : 0;
      }
      const r = roc.getResult();
      // One object literal in INDICATOR_NAMES' order: a walk-forward reads it at every candle, and a
      // literal gets a fixed shape where a built-up object would not.
      return {
        rsi14: finite(rsi.getResult()),
        macd: finite(m?.macd),
        // The library starts the signal EMA with the first MACD value; until it has seen
        // 9 of them (candle 34) it is not a 9-period EMA yet, so report it as warming up.
        macd_signal: macdSignal.isStable ? finite(m?.signal) : null,
        macd_hist: macdSignal.isStable ? finite(m?.histogram) : null,
        ema20: finite(ema20.getResult()),
        ema50: finite(ema50.getResult()),
        ema200: finite(ema200.getResult()),
        sma20: finite(sma20.getResult()),
        // Flat prices collapse the bands: the close sits exactly on the middle.
        bb_percent_b: bands ? (width > 0 ? finite((close - bands.lower) / width) : 0.5) : null,
        bb_width: bands && bands.middle > 0 ? finite(width / bands.middle) : null,
        atr14: finite(atr.getResult()),
        adx14: finite(adx.getResult()),
        stoch_k: finite(st?.stochK),
        stoch_rsi: sr === null ? null : sr > 1 ? 0.5 : finite(sr),
        cci20: finite(cci.getResult()),
        mfi14: finite(mfi.getResult()),
        obv_slope: obvSlope,
        williams_r: finite(willr.getResult()),
        roc12: r === null ? null : finite(r * 100),
        psar: finite(psar.getResult()),
        ao: finite(ao.getResult()),
      } satisfies Record<(typeof INDICATOR_NAMES)[number], number | null>;
    },
  };
}

/** The 21 values for the LAST candle of the series. */
export function computeIndicators(candles: readonly Candle[], options: IndicatorEngineOptions = {}): IndicatorValues {
  const engine = createIndicatorEngine(options);
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
