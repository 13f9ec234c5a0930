import { describe, expect, it } from 'vitest';
import { TIMEFRAME_MS, TIMEFRAMES } from '../../common/symbols';
import type { Candle } from '../domain';
import { createSimulatedMarket } from './simulated';
import { candleSchema } from './validate-candles';

const NOW = Date.UTC(2025, 4, 20, 13, 37, 12);

function corr(xs: number[], ys: number[]): number {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  xs.forEach((x, i) => {
    const y = ys[i]!;
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}
const logReturns = (c: Candle[]) => c.slice(1).map((x, i) => Math.log(x.close / c[i]!.close));

describe('simulated market', () => {
  it.each(TIMEFRAMES)('returns closed, aligned, valid, contiguous %s candles ending at the last closed one', async (tf) => {
    const m = createSimulatedMarket({ seed: 1, now: () => NOW });
    const candles = await m.fetchCandles('BTC/USDT', tf, { limit: 300 });
    const ms = TIMEFRAME_MS[tf];
    expect(candles).toHaveLength(300);
    const last = candles.at(-1)!;
    expect(last.openTime + ms).toBeLessThanOrEqual(NOW);
    expect(last.openTime + 2 * ms).toBeGreaterThan(NOW); // no closed candle is missing at the end
    candles.forEach((c, i) => {
      expect(candleSchema.safeParse(c).success).toBe(true);
      expect(c.openTime % ms).toBe(0);
      if (i > 0) {
        expect(c.openTime - candles[i - 1]!.openTime).toBe(ms);
        expect(c.open).toBeCloseTo(candles[i - 1]!.close, 6); // each candle opens where the last closed
      }
    });
  });

  it('gives the same candle for the same (seed, symbol, timeframe, openTime) whatever the window or clock', async () => {
    const a = createSimulatedMarket({ seed: 9, now: () => NOW });
    const b = createSimulatedMarket({ seed: 9, now: () => NOW + 30 * 86_400_000, cacheChunks: 1 });
    const full = await a.fetchCandles('ETH/USDT', '15m', { limit: 1000 });
    const target = full[637]!;
    const viaEndTime = await b.fetchCandles('ETH/USDT', '15m', { limit: 5, endTime: target.openTime });
    expect(viaEndTime.at(-1)).toEqual(target);
    const small = await a.fetchCandles('ETH/USDT', '15m', { limit: 3 });
    expect(small).toEqual(full.slice(-3));
    expect(b.candleAt('ETH/USDT', '15m', target.openTime)).toEqual(target);
  });

  it('depends on the seed and the symbol', async () => {
    const [x, y] = [createSimulatedMarket({ seed: 1, now: () => NOW }), createSimulatedMarket({ seed: 2, now: () => NOW })];
    const t = Math.floor(NOW / 3_600_000) * 3_600_000 - 3_600_000;
    expect(x.candleAt('BTC/USDT', '1h', t).close).not.toBe(y.candleAt('BTC/USDT', '1h', t).close);
    expect(x.candleAt('ABC/USDT', '1h', t).close).not.toBe(x.candleAt('XYZ/USDT', '1h', t).close);
  });

  it('never returns candles that have not closed, even when endTime is in the future', async () => {
    const m = createSimulatedMarket({ seed: 3, now: () => NOW });
    const candles = await m.fetchCandles('SOL/USDT', '4h', { limit: 10, endTime: NOW + 86_400_000 });
    expect(candles.every((c) => c.openTime + TIMEFRAME_MS['4h'] <= NOW)).toBe(true);
    expect(await m.fetchCandles('SOL/USDT', '4h', { limit: 0 })).toEqual([]);
  });

  it('keeps plausible price levels per symbol, and the same level across timeframes', async () => {
    const m = createSimulatedMarket({ seed: 4, now: () => NOW });
    const close = async (s: string, tf: '1m' | '1d' = '1m') => (await m.fetchCandles(s, tf, { limit: 1 }))[0]!.close;
    expect(await close('BTC/USDT')).toBeGreaterThan(20_000);
    expect(await close('BTC/USDT')).toBeLessThan(200_000);
    expect(await close('ETH/USDT')).toBeGreaterThan(1_000);
    expect(await close('ETH/USDT')).toBeLessThan(10_000);
    for (const s of ['DOGE/USDT', 'AVAX/USDT', 'LINK/USDT', 'PEPE/USDT']) {
      const p = await close(s);
      expect(p).toBeGreaterThan(0.3);
      expect(p).toBeLessThan(300);
    }
    const [minute, day] = [await close('BTC/USDT', '1m'), await close('BTC/USDT', '1d')];
    expect(Math.abs(Math.log(minute / day))).toBeLessThan(0.25);
  });

  it('looks like a market: annualised vol in range, volatility clustering, volume rising with the move', async () => {
    const m = createSimulatedMarket({ seed: 5, now: () => NOW });
    const candles = await m.fetchCandles('BTC/USDT', '1h', { limit: 4000 });
    const r = logReturns(candles);
    const sd = Math.sqrt(r.reduce((a, x) => a + x * x, 0) / r.length);
    const annual = sd * Math.sqrt(8760);
    expect(annual).toBeGreaterThan(0.3);
    expect(annual).toBeLessThan(1.2);
    // GARCH: large moves follow large moves (|r| autocorrelation), which an i.i.d. walk would not show.
    const abs = r.map(Math.abs);
    // (An i.i.d. walk gives ~0 ± 0.02 here; the GARCH gives 0.1–0.2.)
    expect(corr(abs.slice(1), abs.slice(0, -1))).toBeGreaterThan(0.08);
    const bodyMove = candles.slice(1).map((c) => Math.abs(Math.log(c.close / c.open)));
    expect(corr(bodyMove, candles.slice(1).map((c) => c.volume))).toBeGreaterThan(0.5);
  });

  it('serves 1,000 watchers × 300 candles in well under a second of CPU', async () => {
    const m = createSimulatedMarket({ seed: 6, now: () => NOW });
    // CPU time of this process, not wall time, so parallel test files do not make it flaky.
    const started = process.cpuUsage();
    let total = 0;
    for (let i = 0; i < 1000; i++) total += (await m.fetchCandles(`C${i}/USDT`, TIMEFRAMES[i % 6]!, { limit: 300 })).length;
    const used = process.cpuUsage(started);
    expect(total).toBe(300_000);
    expect((used.user + used.system) / 1000).toBeLessThan(1000);
  });
});
