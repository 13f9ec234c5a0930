import { describe, expect, it } from 'vitest';
import { computeIndicatorSeries, INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { estimateLiquidationClusters } from '../liquidations/estimate-clusters';
import { computeRisk } from '../risk/compute-risk';
import { decideSignal } from '../signals/strategy';
import { realCandles, sharedDataSlices } from './fixtures/real-candles';
import type { TradeSignal } from './simulate';
import { decideSeries } from './signal-series';

describe('decideSeries on real candles', () => {
  const candles = realCandles();
  const decisions = decideSeries(candles, { timeframe: '1h' });

  it('has no look-ahead: garbage after candle i leaves every decision up to i unchanged', () => {
    for (const i of [INDICATOR_WARMUP_CANDLES + 50, 1000]) {
      const garbage = candles.map((c, k) => (k <= i ? c : { ...c, open: 1, high: 1e9, low: 0.5, close: (k * 7919) % 1000, volume: 1e12 }));
      expect(decideSeries(garbage, { timeframe: '1h' }).slice(0, i + 1)).toEqual(decisions.slice(0, i + 1));
    }
  });

  it('stays flat through the warm-up and then calls both sides', () => {
    expect(decisions.slice(0, INDICATOR_WARMUP_CANDLES - 1).every((d) => d.direction === 'flat')).toBe(true);
    const seen = new Set(decisions.slice(INDICATOR_WARMUP_CANDLES).map((d) => d.direction));
    expect([...seen].sort()).toEqual(['flat', 'long', 'short']);
  });

  it('estimates clusters only where the strategy reads them (its calls), with the decisions of estimating them at every candle', () => {
    let reads = 0;
    let sameAsWindow = true;
    const eager = decideSeries(candles, {
      timeframe: '1h',
      decide: (input) => {
        reads++;
        // Read before deciding, as an eager estimate would be: the same clusters the window gives.
        sameAsWindow &&= JSON.stringify(input.clusters) === JSON.stringify(estimateLiquidationClusters(input.candles));
        return decideSignal(input);
      },
    });
    expect(eager).toEqual(decisions);
    expect(sameAsWindow).toBe(true);
    expect(reads).toBe(candles.length - INDICATOR_WARMUP_CANDLES + 1);
    // The default path reads them for calls only: fewer estimates than candles decided.
    const calls = decisions.filter((d) => d.direction !== 'flat').length;
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThan(reads / 2);
  });
});

describe('decideSeries against its definition', () => {
  it("takes at every candle of real data the decision of the ingest's whole window: risk with its own ATR over it, clusters from it", () => {
    const lookback = 1000;
    for (const { name, timeframe, candles } of sharedDataSlices()) {
      const indicators = computeIndicatorSeries(candles);
      const expected = candles.map((_c, i): TradeSignal => {
        if (i + 1 < INDICATOR_WARMUP_CANDLES) return { direction: 'flat', score: 0, stop: null, takeProfit: null };
        const window = candles.slice(Math.max(0, i + 1 - lookback), i + 1);
        const risk = computeRisk(window, timeframe);
        const d = decideSignal({ candles: window, indicators: indicators[i]!, risk, clusters: estimateLiquidationClusters(window), timeframe });
        return { direction: d.direction, score: d.score, vote: d.vote, stop: d.stop, takeProfit: d.takeProfit };
      });
      expect(decideSeries(candles, { timeframe, lookback }), name).toEqual(expected);
    }
  });
});

