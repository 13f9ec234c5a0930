import { describe, expect, it } from 'vitest';
import { INDICATOR_NAMES, type Candle, type IndicatorValues, type LiqCluster, type RiskMetric } from '../domain';
import { computeIndicators, computeIndicatorSeries } from '../indicators/compute-indicators';
import { estimateLiquidationClusters } from '../liquidations/estimate-clusters';
import { createSimulatedMarket } from '../market/simulated';
import { computeRisk } from '../risk/compute-risk';
import { scoreOf } from './score-calibration';
import { sharedDataSlices } from '../backtest/fixtures/real-candles';
import { createIndicatorEngine } from '../indicators/compute-indicators';
import { decideCall, decideSignal, type StrategyOptions } from './strategy';

const ENTRY = 100;
const candles: Candle[] = [{ openTime: 0, open: 99, high: 101, low: 98, close: ENTRY, volume: 5 }];
const risk: RiskMetric = { realizedVol: 0.5, atrPct: 2, drawdownPct: 1, volumeZ: 0, regime: 'normal' };
const nulls = () => Object.fromEntries(INDICATOR_NAMES.map((n) => [n, null])) as IndicatorValues;
const values = (over: Partial<IndicatorValues>): IndicatorValues => ({ ...nulls(), ...over });

// Every voter agrees on long / short; ATR 2.
const BULL = values({
  ema20: 98, ema50: 95, ema200: 90, macd_hist: 0.4, adx14: 30, psar: 96, ao: 1.2, roc12: 3, obv_slope: 0.4,
  rsi14: 25, stoch_k: 10, stoch_rsi: 0.1, cci20: -150, mfi14: 15, williams_r: -90, bb_percent_b: -0.1, atr14: 2,
});
const BEAR = values({
  ema20: 102, ema50: 105, ema200: 110, macd_hist: -0.4, adx14: 30, psar: 104, ao: -1.2, roc12: -3, obv_slope: -0.4,
  rsi14: 75, stoch_k: 90, stoch_rsi: 0.9, cci20: 150, mfi14: 85, williams_r: -10, bb_percent_b: 1.1, atr14: 2,
});
// Up-trend while the oscillators are stretched overbought: trend voters long (10), oscillators short (5.5) of 15.5.
const TREND_VS_OSC = values({ ...BEAR, ema20: 98, ema50: 95, ema200: 90, macd_hist: 0.4, psar: 96, ao: 1, roc12: 2, obv_slope: 0.3 });

const cluster = (side: LiqCluster['side'], priceLow: number, priceHigh: number, strength: number): LiqCluster => ({ side, priceLow, priceHigh, strength, source: 'estimated' });

describe('decideSignal', () => {
  it.each([
    { name: 'no indicator warmed up', v: nulls(), direction: 'flat', score: 0 },
    { name: 'unanimous bull', v: BULL, direction: 'long', score: 100 },
    { name: 'unanimous bear', v: BEAR, direction: 'short', score: 100 },
    // |10 − 5.5| / 15.5 = 29 %: below the default threshold of 40.
    { name: 'trend against stretched oscillators', v: TREND_VS_OSC, direction: 'flat', score: 29 },
    // ema_trend long (2) vs ema200 and macd short (1.5 + 1.5): |2 − 3| / 5 = 20 %.
    { name: 'only three voters, split', v: values({ ema20: 98, ema50: 95, ema200: 110, macd_hist: -1, atr14: 2 }), direction: 'flat', score: 20 },
    // Bull trend voters (10) with every oscillator neutral (5.5 of weight): 10 / 15.5 = 65 %.
    { name: 'bull trend, neutral oscillators', v: values({ ...TREND_VS_OSC, rsi14: 55, stoch_k: 60, stoch_rsi: 0.5, cci20: 20, mfi14: 50, williams_r: -50, bb_percent_b: 0.7 }), direction: 'long', score: 65 },
  ])('$name → $direction with vote $score', ({ v, direction, score }) => {
    const d = decideSignal({ candles, indicators: v, risk, clusters: [], timeframe: '1h' });
    expect(d.direction).toBe(direction);
    expect(d.vote).toBe(score);
    expect(d.entry).toBe(ENTRY);
    if (direction === 'flat') expect([d.stop, d.takeProfit]).toEqual([null, null]);
  });

  it('shows a call with its calibrated score (the win rate of calls like it, by timeframe) and a flat decision with 0', () => {
    for (const timeframe of ['1h', '1d'] as const) {
      const d = decideSignal({ candles, indicators: values({ ...TREND_VS_OSC, rsi14: 55, stoch_k: 60, stoch_rsi: 0.5, cci20: 20, mfi14: 50, williams_r: -50, bb_percent_b: 0.7 }), risk, clusters: [], timeframe });
      expect(d.direction).toBe('long');
      expect(d.score).toBe(scoreOf(timeframe, d.vote));
      expect(d.reasons.find((r) => r.indicator === 'score')?.detail).toContain(`score ${d.score}`);
    }
    const flat = decideSignal({ candles, indicators: TREND_VS_OSC, risk, clusters: [], timeframe: '1h' });
    expect([flat.direction, flat.vote, flat.score]).toEqual(['flat', 29, 0]);
  });

  it('sets ATR-scaled stop and take-profit on the right sides', () => {
    const long = decideSignal({ candles, indicators: BULL, risk, clusters: [], timeframe: '1h' });
    expect([long.stop, long.takeProfit]).toEqual([ENTRY - 1.5 * 2, ENTRY + 3 * 2]);
    const short = decideSignal({ candles, indicators: BEAR, risk, clusters: [], timeframe: '1h' });
    expect([short.stop, short.takeProfit]).toEqual([ENTRY + 1.5 * 2, ENTRY - 3 * 2]);
    const custom = decideSignal({ candles, indicators: BULL, risk, clusters: [], timeframe: '1h' }, { stopAtr: 1, takeProfitAtr: 2 });
    expect([custom.stop, custom.takeProfit]).toEqual([98, 104]);
  });

  it('lists every voter and how it voted', () => {
    const d = decideSignal({ candles, indicators: TREND_VS_OSC, risk, clusters: [], timeframe: '1h' });
    const by = Object.fromEntries(d.reasons.map((r) => [r.indicator, r.vote]));
    expect(by).toMatchObject({ ema_trend: 'long', ema200: 'long', macd: 'long', adx14: 'long', rsi14: 'short', stoch_k: 'short', bb_percent_b: 'short' });
    expect(d.reasons).toHaveLength(15);
    expect(d.reasons.every((r) => r.detail.length > 0 && r.weight > 0)).toBe(true);
  });

  it.each([
    [25, 'long'],
    [29, 'long'],
    [30, 'flat'],
    [undefined, 'flat'],
  ] as const)('threshold %s makes a vote of 29 %s', (threshold, direction) => {
    const d = decideSignal({ candles, indicators: TREND_VS_OSC, risk, clusters: [], timeframe: '1h' }, { threshold });
    expect(d.vote).toBe(29);
    expect(d.direction).toBe(direction);
  });

  it('damps the vote in the extreme volatility regime', () => {
    const calm = decideSignal({ candles, indicators: BULL, risk, clusters: [], timeframe: '1h' });
    const wild = decideSignal({ candles, indicators: BULL, risk: { ...risk, regime: 'extreme', realizedVol: 2 }, clusters: [], timeframe: '1h' });
    expect(calm.vote).toBe(100);
    expect(wild.vote).toBe(70);
    expect(wild.reasons.find((r) => r.indicator === 'risk_regime')).toMatchObject({ vote: 'neutral' });
  });

  it('stays flat when there is no volatility estimate for a stop', () => {
    const d = decideSignal({ candles, indicators: { ...BULL, atr14: null }, risk: { ...risk, atrPct: 0 }, clusters: [], timeframe: '1h' });
    expect(d.direction).toBe('flat');
    expect(d.vote).toBe(100);
    // …but falls back to the risk metric's ATR % when the indicator is missing.
    const fallback = decideSignal({ candles, indicators: { ...BULL, atr14: null }, risk, clusters: [], timeframe: '1h' });
    expect([fallback.stop, fallback.takeProfit]).toEqual([97, 106]);
  });

  it.each([
    { name: 'a strong short band 2 ATR above → TP at its lower edge', dir: BULL, clusters: [cluster('short', 104, 104.5, 0.9)], tp: 104 },
    { name: 'the strongest of several bands in reach', dir: BULL, clusters: [cluster('short', 103, 103.2, 0.6), cluster('short', 108, 108.4, 0.95)], tp: 108 },
    { name: 'a weak band is ignored', dir: BULL, clusters: [cluster('short', 104, 104.5, 0.3)], tp: 106 },
    { name: 'a band beyond 5 ATR is ignored', dir: BULL, clusters: [cluster('short', 111, 111.5, 1)], tp: 106 },
    { name: 'a band closer than 1 ATR is ignored', dir: BULL, clusters: [cluster('short', 101, 101.5, 1)], tp: 106 },
    { name: 'same-side (long) bands do not set a long TP', dir: BULL, clusters: [cluster('long', 94, 95, 1)], tp: 106 },
    { name: 'a short targets a strong long band below at its upper edge', dir: BEAR, clusters: [cluster('long', 95.5, 96, 0.8)], tp: 96 },
  ])('clusters: $name', ({ dir, clusters, tp }) => {
    const d = decideSignal({ candles, indicators: dir, risk, clusters, timeframe: '1h' });
    expect(d.takeProfit).toBe(tp);
    expect(d.reasons.some((r) => r.indicator === 'liq_cluster')).toBe(tp !== (dir === BULL ? 106 : 94));
  });
});

describe('decideSignal opt-in filters', () => {
  it.each([
    { name: 'trend gate: a long below EMA200 stays flat', v: { ...BULL, ema200: 101 }, options: { trendGate: true }, direction: 'flat', reason: 'trend_gate' },
    { name: 'trend gate: a short above EMA200 stays flat', v: { ...BEAR, ema200: 99 }, options: { trendGate: true }, direction: 'flat', reason: 'trend_gate' },
    { name: 'trend gate: a long above EMA200 passes', v: BULL, options: { trendGate: true }, direction: 'long', reason: null },
    // Target 3 ATR = 6 % of the price; 20 round trips of 0.2 % = 4 %: clears.
    { name: 'fee hurdle cleared', v: BULL, options: { minMoveFees: 20, feePct: 0.1 }, direction: 'long', reason: null },
    { name: 'fee hurdle not cleared', v: BULL, options: { minMoveFees: 40, feePct: 0.1 }, direction: 'flat', reason: 'fee_hurdle' },
  ] as const)('$name', ({ v, options, direction, reason }) => {
    const d = decideSignal({ candles, indicators: v, risk, clusters: [], timeframe: '1h' }, options);
    expect(d.direction).toBe(direction);
    expect(d.reasons.some((r) => r.indicator === reason)).toBe(reason !== null);
  });
});

describe('decideSignal reward/risk floor (minRewardRisk)', () => {
  // Stop 1.5 ATR = 3 below the entry; a short band 2.5 above would make a win smaller than a loss.
  it.each([
    { name: 'off by default: a band 1.25 ATR away is the target', options: {}, band: [102.5, 103], tp: 102.5 },
    { name: '1: a band nearer than the stop is ignored', options: { minRewardRisk: 1 }, band: [102.5, 103], tp: 106 },
    { name: '1: a band at the stop distance is taken', options: { minRewardRisk: 1 }, band: [103, 103.5], tp: 103 },
  ])('$name', ({ options, band, tp }) => {
    const d = decideSignal({ candles, indicators: BULL, risk, clusters: [cluster('short', band[0]!, band[1]!, 1)], timeframe: '1h' }, options);
    expect(d.takeProfit).toBe(tp);
  });
});

describe('decideSignal has no look-ahead', () => {
  const NOW = Date.UTC(2025, 3, 1);
  async function history(seed: number) {
    return createSimulatedMarket({ seed, now: () => NOW }).fetchCandles('BTC/USDT', '1h', { limit: 600 });
  }
  /** The decision at candle k, with indicators taken from a series computed over ALL candles given. */
  function decisionAt(all: Candle[], k: number) {
    const past = all.slice(Math.max(0, k - 299), k + 1);
    return decideSignal({ candles: past, indicators: computeIndicatorSeries(all)[k]!, risk: computeRisk(past, '1h'), clusters: estimateLiquidationClusters(past), timeframe: '1h' });
  }

  it('a past decision does not change when future candles are appended or rewritten', async () => {
    const base = await history(21);
    const k = 400;
    const crash = base.slice(k + 1).map((c, i) => {
      const f = Math.exp(-0.01 * (i + 1));
      return { ...c, open: c.open * f, high: c.high * f, low: c.low * f * 0.99, close: c.close * f, volume: c.volume * 5 };
    });
    const expected = decideSignal({ candles: base.slice(k - 299, k + 1), indicators: computeIndicators(base.slice(0, k + 1)), risk: computeRisk(base.slice(k - 299, k + 1), '1h'), clusters: estimateLiquidationClusters(base.slice(k - 299, k + 1)), timeframe: '1h' });
    expect(decisionAt(base.slice(0, k + 1), k)).toEqual(expected);
    expect(decisionAt(base, k)).toEqual(expected);
    expect(decisionAt([...base.slice(0, k + 1), ...crash], k)).toEqual(expected);
  });

  it('produces both long and short calls on realistic data (the strategy is not one-sided)', async () => {
    const all = await history(22);
    const series = computeIndicatorSeries(all);
    const seen = new Set<string>();
    for (let k = 250; k < all.length; k += 2) {
      const past = all.slice(Math.max(0, k - 299), k + 1);
      seen.add(decideSignal({ candles: past, indicators: series[k]!, risk: computeRisk(past, '1h'), clusters: [], timeframe: '1h' }).direction);
    }
    expect([...seen].sort()).toEqual(['flat', 'long', 'short']);
  });
});

describe('decideCall', () => {
  it("takes decideSignal's decision without its reasons, at every candle of the four real-data files and with each opt-in rule", () => {
    const options: StrategyOptions[] = [{}, { trendGate: true }, { minMoveFees: 3, feePct: 0.1 }, { minRewardRisk: 1, threshold: 30 }];
    let calls = 0;
    for (const { candles: all, timeframe } of sharedDataSlices()) {
      const engine = createIndicatorEngine();
      all.forEach((candle, i) => {
        engine.push(candle);
        const past = all.slice(Math.max(0, i - 99), i + 1);
        const indicators = engine.values();
        const input = { candles: past, indicators, risk: computeRisk(past, timeframe, indicators.atr14), clusters: estimateLiquidationClusters(past), timeframe };
        for (const o of options) {
          const explained = decideSignal(input, o);
          const call = decideCall(input, o);
          expect(call).toEqual({ ...explained, reasons: [] });
          if (call.direction !== 'flat') calls++;
        }
      });
    }
    // Calls with stops, targets and scores were compared, not only flat decisions.
    expect(calls).toBeGreaterThan(1000);
  });
});
