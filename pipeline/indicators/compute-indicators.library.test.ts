/**
 * The worker's indicators (indicator-parts.ts) against `trading-signals`
 * itself, composed exactly as the engine used them before: every one of the
 * 21 values at every candle, equal to the bit (toStrictEqual), on real
 * candles (hourly and daily, BTC and ETH), on simulated ones, and on the
 * degenerate series where the library takes its special branches (flat
 * prices, zero volume, a one-way market).
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
import { describe, expect, it } from 'vitest';
import { realCandles, sharedDataSlices } from '../backtest/fixtures/real-candles';
import { INDICATOR_NAMES, type Candle, type IndicatorValues } from '../domain';
import { createSimulatedMarket } from '../market/simulated';
import { createIndicatorEngine, type IndicatorEngine } from './compute-indicators';
import { createPsar } from './psar';

const OBV_WINDOW = 14;

/** The engine as it was written on the library (before indicator-parts.ts), kept here as the reference. */
function createLibraryEngine(): IndicatorEngine {
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
      sma20.add(c.close);
      bb.add(c.close);
      stochRsi.add(c.close);
      roc.add(c.close);
      atr.add(c);
      adx.add(c);
      stoch.add(c);
      cci.add(c);
      mfi.add(c);
      willr.add(c);
      psar.add(c);
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
      const out = Object.fromEntries(INDICATOR_NAMES.map((n) => [n, null])) as IndicatorValues;
      if (!last || count === 0) return out;
      const close = last.close;
      const m = macd.getResult();
      const bands = bb.getResult();
      const st = stoch.getResult();

      out.rsi14 = finite(rsi.getResult());
      out.macd = finite(m?.macd);
      // The library starts the signal EMA with the first MACD value; until it has seen
      // 9 of them (candle 34) it is not a 9-period EMA yet, so report it as warming up.
      if (macdSignal.isStable) {
        out.macd_signal = finite(m?.signal);
        out.macd_hist = finite(m?.histogram);
      }
      out.ema20 = finite(ema20.getResult());
      out.ema50 = finite(ema50.getResult());
      out.ema200 = finite(ema200.getResult());
      out.sma20 = finite(sma20.getResult());
      if (bands) {
        const width = bands.upper - bands.lower;
        // Flat prices collapse the bands: the close sits exactly on the middle.
        out.bb_percent_b = width > 0 ? finite((close - bands.lower) / width) : 0.5;
        out.bb_width = bands.middle > 0 ? finite(width / bands.middle) : null;
      }
      out.atr14 = finite(atr.getResult());
      out.adx14 = finite(adx.getResult());
      out.stoch_k = finite(st?.stochK);
      // The library reports 100 (on its 0..1 scale) when the RSI was flat over the window;
      // there is no position within a zero range, so call it neutral.
      const sr = stochRsi.getResult();
      out.stoch_rsi = sr === null ? null : sr > 1 ? 0.5 : finite(sr);
      out.cci20 = finite(cci.getResult());
      out.mfi14 = finite(mfi.getResult());
      if (obvHistory.length === OBV_WINDOW + 1 && volumes.length === OBV_WINDOW) {
        const totalVolume = volumes.reduce((a, v) => a + v, 0);
        const delta = (obvHistory[OBV_WINDOW] ?? 0) - (obvHistory[0] ?? 0);
        out.obv_slope = totalVolume > 0 ? finite(delta / totalVolume) : 0;
      }
      out.williams_r = finite(willr.getResult());
      const r = roc.getResult();
      out.roc12 = r === null ? null : finite(r * 100);
      out.psar = finite(psar.getResult());
      out.ao = finite(ao.getResult());
      return out;
    },
  };
}

function finite(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

const H = 3_600_000;
const flat = (n: number, volume = 10): Candle[] => Array.from({ length: n }, (_, i) => ({ openTime: i * H, open: 100, high: 100, low: 100, close: 100, volume }));
const oneWay = (n: number, step: number): Candle[] =>
  Array.from({ length: n }, (_, i) => {
    const close = 1000 + step * i;
    return { openTime: i * H, open: close - step, high: Math.max(close, close - step) + 0.5, low: Math.min(close, close - step) - 0.5, close, volume: 5 };
  });

async function series(): Promise<Array<[string, Candle[]]>> {
  const simulated = await createSimulatedMarket({ seed: 5, now: () => Date.UTC(2025, 0, 15) }).fetchCandles('SOL/USDT', '5m', { limit: 1000 });
  return [
    ['BTCUSDT 1h (1,200)', realCandles()],
    ...sharedDataSlices().map((s): [string, Candle[]] => [`${s.name} (${s.candles.length})`, s.candles]),
    ['simulated SOL 5m (1,000)', simulated],
    ['flat prices', flat(260)],
    ['flat prices, zero volume', flat(260, 0)],
    ['a market that only rises', oneWay(260, 3)],
    ['a market that only falls', oneWay(260, -3)],
    ['flat, then a jump, then flat', [...flat(120), ...oneWay(3, 7).map((c, i) => ({ ...c, openTime: (120 + i) * H })), ...flat(120).map((c, i) => ({ ...c, openTime: (123 + i) * H, open: 1014, high: 1014, low: 1014, close: 1014 }))]],
  ];
}

describe('indicators equal trading-signals to the bit', () => {
  it('at every candle of real, simulated and degenerate series', async () => {
    for (const [name, candles] of await series()) {
      const ours = createIndicatorEngine();
      const library = createLibraryEngine();
      for (let i = 0; i < candles.length; i++) {
        ours.push(candles[i]!);
        library.push(candles[i]!);
        expect(ours.values(), `${name}, candle ${i}`).toStrictEqual(library.values());
      }
      // Not vacuous: every indicator had a value on the real series.
      if (name.startsWith('BTCUSDT 1h')) for (const k of INDICATOR_NAMES) expect(ours.values()[k], k).not.toBeNull();
    }
  }, 120_000);
});
