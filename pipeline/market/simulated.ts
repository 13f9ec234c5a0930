/**
 * A deterministic synthetic market for development, tests and benchmarks.
 *
 * Requirements that shape the design:
 *  - the same (seed, symbol, timeframe, openTime) always yields the same candle,
 *    whatever `limit`/`endTime`/`now` the caller asks with;
 *  - it must be fast: 1,000 watchers × ~300 candles well under a second of CPU;
 *  - it should look like a market: trending and ranging regimes (Markov
 *    switching), volatility clustering (GARCH(1,1)), fat-ish tails, and volume
 *    that rises with the size of the move.
 *
 * A plain random walk from a fixed epoch would need millions of steps for 1m
 * candles. Instead time is cut into chunks of CHUNK candles. The log price at
 * every chunk boundary (the "anchor") is a closed-form function of absolute
 * time: a sum of octaves of interpolated lattice noise with Brownian scaling,
 * keyed by (seed, symbol) only, so the coarse price level agrees across
 * timeframes. Inside a chunk the regime/GARCH walk is simulated from its own
 * seeded PRNG and then bridged so it ends exactly on the next anchor (the
 * correction is spread in proportion to each step's variance, so it hides in
 * the noisy stretches). Any candle therefore costs at most one chunk of work,
 * and chunks are cached.
 */
import { TIMEFRAME_MS, type Timeframe } from '../../common/symbols';
import type { Candle } from '../domain';
import type { MarketSource } from './market-source';
import { isClosed, splitSymbol } from './validate-candles';

const CHUNK = 128;
/** Fields per candle in a chunk's packed Float64Array: openTime, open, high, low, close, volume. */
const STRIDE = 6;
const YEAR_MS = 365 * 86_400_000;
/** Span of the finest anchor lattice: one chunk of the shortest timeframe. */
const BASE_SPAN_MS = CHUNK * TIMEFRAME_MS['1m'];
/** Cap on the total amplitude of the anchor noise in log space (±~57 % at one sd). */
const MAX_ANCHOR_AMPLITUDE = 0.45;
const MAX_CANDLES_PER_CALL = 5000;

interface Profile {
  logBase: number;
  /** Annualised volatility of log returns. */
  annualVol: number;
  /** Typical traded value per hour in quote currency. */
  quoteVolumePerHour: number;
}

// Plausible levels for the majors; anything else gets a seeded level between 1 and 100.
const KNOWN: Record<string, Omit<Profile, 'logBase'> & { price: number }> = {
  BTC: { price: 60_000, annualVol: 0.55, quoteVolumePerHour: 60e6 },
  ETH: { price: 3_000, annualVol: 0.7, quoteVolumePerHour: 30e6 },
  BNB: { price: 600, annualVol: 0.6, quoteVolumePerHour: 6e6 },
  SOL: { price: 150, annualVol: 0.9, quoteVolumePerHour: 12e6 },
};

// Regimes: 0 = range, 1 = trend up, 2 = trend down.
const REGIME_DRIFT_SIGMAS = [0, 0.1, -0.1];
const REGIME_VOL_MULT = [0.8, 1.1, 1.2];
/** Mean regime length in candles. */
const REGIME_MEAN_LENGTH = 60;
// GARCH(1,1) persistence: alpha + beta < 1 keeps the variance mean-reverting to sigma².
const GARCH_ALPHA = 0.07;
const GARCH_BETA = 0.9;

export interface SimulatedMarketOptions {
  seed?: number;
  now?: () => number;
  /** Chunks kept in memory (each CHUNK candles, 6 KB); the default 4096 is ~25 MB, enough for ~1,200 watchers × 300 candles. */
  cacheChunks?: number;
}

export interface SimulatedMarket extends MarketSource {
  /** The candle at an aligned openTime, closed or not (tests and benchmarks). */
  candleAt(symbol: string, timeframe: Timeframe, openTime: number): Candle;
}

export function createSimulatedMarket(options: SimulatedMarketOptions = {}): SimulatedMarket {
  const seed = (options.seed ?? 42) >>> 0;
  const now = options.now ?? Date.now;
  const cacheLimit = Math.max(1, options.cacheChunks ?? 4096);
  // Chunks are packed Float64Arrays: millions of retained small objects would make GC the bottleneck.
  const cache = new Map<string, Float64Array>();
  const profiles = new Map<string, Profile>();

  function profileOf(symbol: string): Profile {
    let p = profiles.get(symbol);
    if (!p) {
      const { base } = splitSymbol(symbol);
      const known = KNOWN[base];
      const h = mix(seed, hashString(base));
      p = known
        ? { logBase: Math.log(known.price), annualVol: known.annualVol, quoteVolumePerHour: known.quoteVolumePerHour }
        : { logBase: Math.log(10) * 2 * unit(h), annualVol: 0.75 + 0.5 * unit(mix(h, 1)), quoteVolumePerHour: 1e6 * (1 + 4 * unit(mix(h, 2))) };
      profiles.set(symbol, p);
    }
    return p;
  }

  /** Log price at an absolute time; the same for every timeframe of a symbol. */
  function anchor(symbol: string, time: number): number {
    const p = profileOf(symbol);
    const key = mix(seed, hashString(symbol));
    let level = p.logBase;
    let total = 0;
    for (let o = 0; o < 24; o++) {
      const span = BASE_SPAN_MS * 2 ** o;
      // Brownian scaling: the variance of an octave grows linearly with its span.
      const amplitude = p.annualVol * Math.sqrt(span / YEAR_MS / 2);
      if (Math.sqrt(total + amplitude * amplitude) > MAX_ANCHOR_AMPLITUDE) break;
      total += amplitude * amplitude;
      const x = time / span;
      const j = Math.floor(x);
      const f = x - j;
      const okey = mix(key, 0x51ed27 + o);
      level += amplitude * (latticeGaussian(okey, j) * (1 - f) + latticeGaussian(okey, j + 1) * f);
    }
    return level;
  }

  function chunk(symbol: string, timeframe: Timeframe, index: number): Float64Array {
    const cacheKey = `${symbol}|${timeframe}|${index}`;
    const hit = cache.get(cacheKey);
    if (hit) {
      // Refresh recency so the Map's insertion order works as an LRU.
      cache.delete(cacheKey);
      cache.set(cacheKey, hit);
      return hit;
    }
    const built = buildChunk(symbol, timeframe, index);
    cache.set(cacheKey, built);
    if (cache.size > cacheLimit) cache.delete(cache.keys().next().value as string);
    return built;
  }

  function buildChunk(symbol: string, timeframe: Timeframe, index: number): Float64Array {
    const tf = TIMEFRAME_MS[timeframe];
    const p = profileOf(symbol);
    const rand = mulberry32(mix(mix(mix(seed, hashString(symbol)), hashString(timeframe)), index));
    // Box–Muller yields two normals per draw; keep the spare.
    let spare = Number.NaN;
    const gauss = (): number => {
      if (!Number.isNaN(spare)) {
        const g = spare;
        spare = Number.NaN;
        return g;
      }
      const r = Math.sqrt(-2 * Math.log(1 - rand()));
      const theta = 2 * Math.PI * rand();
      spare = r * Math.sin(theta);
      return r * Math.cos(theta);
    };
    const sigma = p.annualVol * Math.sqrt(tf / YEAR_MS);
    const startTime = index * CHUNK * tf;
    const a0 = anchor(symbol, startTime);
    const a1 = anchor(symbol, startTime + CHUNK * tf);

    const returns = new Float64Array(CHUNK);
    const variances = new Float64Array(CHUNK);
    const wickUp = new Float64Array(CHUNK);
    const wickDown = new Float64Array(CHUNK);
    const volumeNoise = new Float64Array(CHUNK);
    // Start each chunk from the stationary regime mix and a perturbed long-run variance.
    let regime = pickStationaryRegime(rand());
    // The starting variance is slow lattice noise over chunk indices, so calm and
    // turbulent stretches persist across chunk boundaries.
    let h = sigma * sigma * Math.exp(0.5 * slowNoise(mix(mix(seed, hashString(symbol)), hashString(timeframe) ^ 0x7f4a7c15), index / 4));
    let prevShock = 0;
    let level = 0;
    let rangeCenter = 0;
    let totalVariance = 0;
    for (let i = 0; i < CHUNK; i++) {
      if (rand() < 1 / REGIME_MEAN_LENGTH) {
        regime = nextRegime(regime, rand());
        rangeCenter = level;
      }
      h = sigma * sigma * (1 - GARCH_ALPHA - GARCH_BETA) + GARCH_ALPHA * prevShock * prevShock + GARCH_BETA * h;
      const sd = Math.sqrt(h) * (REGIME_VOL_MULT[regime] ?? 1);
      // Rare jumps give the return distribution fatter tails than the GARCH alone.
      const z = gauss() * (rand() < 0.01 ? 2.5 : 1);
      const drift = regime === 0 ? -0.05 * (level - rangeCenter) : (REGIME_DRIFT_SIGMAS[regime] ?? 0) * sigma;
      const shock = sd * z;
      // The GARCH recursion sees the regime-free shock: feeding the regime multiplier back
      // in would make the variance explode in the high-volatility regimes.
      prevShock = Math.sqrt(h) * z;
      returns[i] = drift + shock;
      variances[i] = sd * sd;
      totalVariance += sd * sd;
      level += drift + shock;
      wickUp[i] = Math.abs(gauss()) * 0.6 * sd;
      wickDown[i] = Math.abs(gauss()) * 0.6 * sd;
      volumeNoise[i] = Math.exp(0.35 * gauss());
    }
    // Bridge: remove the gap between where the walk ended and the next anchor.
    const gap = level - (a1 - a0);
    const quotePerCandle = p.quoteVolumePerHour * (tf / 3_600_000);
    const packed = new Float64Array(CHUNK * STRIDE);
    let logPrice = a0;
    for (let i = 0; i < CHUNK; i++) {
      const r = (returns[i] ?? 0) - gap * ((variances[i] ?? 0) / totalVariance);
      const open = Math.exp(logPrice);
      logPrice += r;
      const close = Math.exp(logPrice);
      const high = Math.max(open, close) * Math.exp(wickUp[i] ?? 0);
      const low = Math.min(open, close) * Math.exp(-(wickDown[i] ?? 0));
      // Volume in base units, rising with the size of the move relative to normal.
      const activity = 0.35 + Math.abs(r) / sigma;
      const volume = ((quotePerCandle * activity * (volumeNoise[i] ?? 1)) / close) * 0.8;
      const o = i * STRIDE;
      packed[o] = startTime + i * tf;
      packed[o + 1] = open;
      packed[o + 2] = high;
      packed[o + 3] = low;
      packed[o + 4] = close;
      packed[o + 5] = volume;
    }
    return packed;
  }

  function candleAt(symbol: string, timeframe: Timeframe, openTime: number): Candle {
    const tf = TIMEFRAME_MS[timeframe];
    const idx = Math.floor(openTime / tf);
    return unpack(chunk(symbol.toUpperCase(), timeframe, Math.floor(idx / CHUNK)), idx % CHUNK);
  }

  return {
    name: 'simulated',
    candleAt,
    async fetchCandles(symbol, timeframe, { limit, endTime }) {
      const tf = TIMEFRAME_MS[timeframe];
      const count = Math.min(MAX_CANDLES_PER_CALL, Math.max(0, Math.floor(limit)));
      const at = now();
      let lastIdx = Math.floor(at / tf);
      if (!isClosed(lastIdx * tf, timeframe, at)) lastIdx -= 1;
      if (endTime !== undefined) lastIdx = Math.min(lastIdx, Math.floor(endTime / tf));
      const firstIdx = Math.max(0, lastIdx - count + 1);
      const upper = symbol.toUpperCase();
      const out: Candle[] = [];
      // Walk whole chunks rather than candles: one cache lookup per CHUNK candles.
      for (let idx = firstIdx; idx <= lastIdx && count > 0; ) {
        const k = Math.floor(idx / CHUNK);
        const packed = chunk(upper, timeframe, k);
        const stop = Math.min(lastIdx, (k + 1) * CHUNK - 1);
        for (let i = idx - k * CHUNK; i <= stop - k * CHUNK; i++) out.push(unpack(packed, i));
        idx = stop + 1;
      }
      return out;
    },
  };
}

function unpack(packed: Float64Array, i: number): Candle {
  const o = i * STRIDE;
  return {
    openTime: packed[o] ?? 0,
    open: packed[o + 1] ?? 0,
    high: packed[o + 2] ?? 0,
    low: packed[o + 3] ?? 0,
    close: packed[o + 4] ?? 0,
    volume: packed[o + 5] ?? 0,
  };
}

/** Linearly interpolated lattice noise: a smooth N(0,1)-ish function of x. */
function slowNoise(key: number, x: number): number {
  const j = Math.floor(x);
  const f = x - j;
  return latticeGaussian(key, j) * (1 - f) + latticeGaussian(key, j + 1) * f;
}

const STATIONARY = [0.5, 0.25, 0.25];
function pickStationaryRegime(u: number): number {
  return u < (STATIONARY[0] ?? 0) ? 0 : u < (STATIONARY[0] ?? 0) + (STATIONARY[1] ?? 0) ? 1 : 2;
}
/** A regime switch: trends mostly fall back into a range; a range breaks out either way. */
function nextRegime(current: number, u: number): number {
  if (current === 0) return u < 0.5 ? 1 : 2;
  if (u < 0.7) return 0;
  return current === 1 ? 2 : 1;
}

// --- deterministic hashing and PRNG -------------------------------------------------------

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Murmur3's finaliser over a combination of two 32-bit values. */
function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b | 0, 0x9e3779b1) ^ (b / 0x100000000)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function unit(h: number): number {
  return h / 0x100000000;
}

function latticeGaussian(key: number, j: number): number {
  const h1 = mix(key, j);
  const u1 = (h1 + 1) / 0x100000001;
  const u2 = unit(mix(h1, 0x2545f491));
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
