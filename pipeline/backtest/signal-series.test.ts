import { describe, expect, it } from 'vitest';
import { INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { estimateLiquidationClusters } from '../liquidations/estimate-clusters';
import { decideSignal } from '../signals/strategy';
import { realCandles } from './fixtures/real-candles';
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
