/**
 * Estimated liquidation clusters (a Coinglass-style map) from candles alone,
 * for when no provider map (KingFisher) is available.
 *
 * Model: every recent candle is an entry zone at its typical price
 * (h + l + c) / 3, weighted by its volume. Positions opened there at leverage
 * L are liquidated, for longs, near entry·(1 − 1/L + mmr) and, for shorts,
 * near entry·(1 + 1/L − mmr) (mmr = maintenance margin rate). Each leverage
 * tier carries a share of the volume. A level that later price has already
 * crossed is "filled" (those positions are gone) and dropped. What remains is
 * bucketed into price bands; a band's strength is its weight relative to the
 * heaviest band (0..1). Levels below the price are long liquidations, above
 * are short liquidations.
 */
import type { Candle, LiqCluster } from '../domain';

export interface LeverageTier {
  leverage: number;
  /** Share of entry volume assumed at this leverage. */
  weight: number;
}

export interface EstimateClusterOptions {
  /** Candles (from the newest back) treated as entries. */
  lookback?: number;
  tiers?: readonly LeverageTier[];
  /** Maintenance margin rate, as a fraction (0.005 = 0.5 %). */
  mmr?: number;
  /** Band width as a percentage of the last close. */
  bandPct?: number;
  /** At most this many bands, the strongest kept. */
  maxClusters?: number;
  /** Bands weaker than this (relative to the strongest) are dropped. */
  minStrength?: number;
}

/** Candles (from the newest back) taken as entries by default: all an estimate reads of its candles. */
export const DEFAULT_ENTRY_CANDLES = 100;

export const DEFAULT_TIERS: readonly LeverageTier[] = [
  { leverage: 10, weight: 0.35 },
  { leverage: 25, weight: 0.3 },
  { leverage: 50, weight: 0.2 },
  { leverage: 100, weight: 0.15 },
];

/**
 * The typed arrays one estimate works in, grown as needed. A walk-forward over
 * a new watcher's history estimates at every candle that makes a call (~500 of
 * 2,000), and allocating these afresh (off-heap backing stores) was about a
 * third of each estimate's cost.
 */
interface Scratch {
  lowAfter: Float64Array;
  highAfter: Float64Array;
  levelKeys: Float64Array;
  levelWeights: Float64Array;
  bandSlots: Int32Array;
}

const emptyScratch = (): Scratch => ({
  lowAfter: new Float64Array(0),
  highAfter: new Float64Array(0),
  levelKeys: new Float64Array(0),
  levelWeights: new Float64Array(0),
  bandSlots: new Int32Array(0),
});

export type ClusterEstimator = (candles: readonly Candle[], options?: EstimateClusterOptions) => LiqCluster[];

/** estimateLiquidationClusters, reusing its working arrays from one call to the next (one caller at a time: calls are synchronous). */
export function createClusterEstimator(): ClusterEstimator {
  const scratch = emptyScratch();
  return (candles, options = {}) => estimate(candles, options, scratch);
}

export function estimateLiquidationClusters(candles: readonly Candle[], options: EstimateClusterOptions = {}): LiqCluster[] {
  return estimate(candles, options, emptyScratch());
}

function estimate(candles: readonly Candle[], options: EstimateClusterOptions, scratch: Scratch): LiqCluster[] {
  const n = candles.length;
  const last = candles[n - 1];
  if (!last) return [];
  const lookback = options.lookback ?? DEFAULT_ENTRY_CANDLES;
  const tiers = options.tiers ?? DEFAULT_TIERS;
  const mmr = options.mmr ?? 0.005;
  const width = last.close * ((options.bandPct ?? 0.5) / 100);
  const maxClusters = options.maxClusters ?? 12;
  const minStrength = options.minStrength ?? 0.05;
  if (!(width > 0)) return [];

  const start = Math.max(0, n - lookback);
  // Lowest low / highest high strictly after each entry candle: "was this level crossed later?" in O(1).
  // Only the entries (the last `lookback` candles) are asked, so only their suffix is scanned.
  const entries = n - start;
  if (scratch.lowAfter.length < entries + 1) {
    scratch.lowAfter = new Float64Array(entries + 1);
    scratch.highAfter = new Float64Array(entries + 1);
  }
  const minLowAfter = scratch.lowAfter;
  const maxHighAfter = scratch.highAfter;
  minLowAfter[entries] = Number.POSITIVE_INFINITY;
  maxHighAfter[entries] = Number.NEGATIVE_INFINITY;
  for (let i = n - 1; i >= start; i--) {
    const c = candles[i]!;
    minLowAfter[i - start] = Math.min(minLowAfter[i + 1 - start]!, c.low);
    maxHighAfter[i - start] = Math.max(maxHighAfter[i + 1 - start]!, c.high);
  }

  // Zero-volume feeds would erase every level; weigh entries equally instead.
  let anyVolume = false;
  for (let i = start; i < n; i++) if (candles[i]!.volume > 0) anyVolume = true;

  // Every surviving level in the order met (entry by entry, tier by tier, long before short), as its
  // band key (2·band for longs, 2·band + 1 for shorts) and weight: numbers in typed arrays rather than
  // an object or a string per level.
  const longFactors = tiers.map(({ leverage }) => 1 - 1 / leverage + mmr);
  const shortFactors = tiers.map(({ leverage }) => 1 + 1 / leverage - mmr);
  if (scratch.levelKeys.length < 2 * tiers.length * entries) {
    scratch.levelKeys = new Float64Array(2 * tiers.length * entries);
    scratch.levelWeights = new Float64Array(2 * tiers.length * entries);
  }
  const levelKeys = scratch.levelKeys;
  const levelWeights = scratch.levelWeights;
  let levels = 0;
  let minKey = Number.POSITIVE_INFINITY;
  let maxKey = Number.NEGATIVE_INFINITY;
  for (let i = start; i < n; i++) {
    const c = candles[i]!;
    const entry = (c.high + c.low + c.close) / 3;
    const volume = anyVolume ? c.volume : 1;
    if (!(volume > 0)) continue;
    const lowAfter = minLowAfter[i + 1 - start]!;
    const highAfter = maxHighAfter[i + 1 - start]!;
    for (let t = 0; t < tiers.length; t++) {
      const weight = volume * tiers[t]!.weight;
      const longLiq = entry * longFactors[t]!;
      const shortLiq = entry * shortFactors[t]!;
      // Filled once a later candle traded through it; it must also still be on its side of the price.
      if (lowAfter > longLiq && longLiq < last.close) {
        const key = 2 * Math.floor(longLiq / width);
        levelKeys[levels] = key;
        levelWeights[levels++] = weight;
        if (key < minKey) minKey = key;
        if (key > maxKey) maxKey = key;
      }
      if (highAfter < shortLiq && shortLiq > last.close) {
        const key = 2 * Math.floor(shortLiq / width) + 1;
        levelKeys[levels] = key;
        levelWeights[levels++] = weight;
        if (key < minKey) minKey = key;
        if (key > maxKey) maxKey = key;
      }
    }
  }

  // Weight per band, summed in the order met; bands in the order first met, which the stable sort
  // below relies on for equal strengths. A band's slot is found through a table indexed by key when
  // the keys span a few thousand bands (always, bar a price many times the last close), else a Map.
  const bandKeys: number[] = [];
  const bandWeights: number[] = [];
  const span = maxKey - minKey + 1;
  let table: Int32Array | undefined;
  if (span <= 8192) {
    if (scratch.bandSlots.length < span) scratch.bandSlots = new Int32Array(span);
    table = scratch.bandSlots.fill(-1, 0, span);
  }
  const map = table ? undefined : new Map<number, number>();
  for (let l = 0; l < levels; l++) {
    const key = levelKeys[l]!;
    const slot = table ? table[key - minKey]! : (map!.get(key) ?? -1);
    if (slot >= 0) bandWeights[slot] = bandWeights[slot]! + levelWeights[l]!;
    else {
      if (table) table[key - minKey] = bandKeys.length;
      else map!.set(key, bandKeys.length);
      bandKeys.push(key);
      bandWeights.push(levelWeights[l]!);
    }
  }

  // Only the bands kept become objects: a window has tens of bands, the result at most maxClusters.
  let heaviest = 0;
  for (const w of bandWeights) heaviest = Math.max(heaviest, w);
  if (heaviest <= 0) return [];
  const strengths = bandWeights.map((w) => w / heaviest);
  const kept: number[] = [];
  for (let slot = 0; slot < strengths.length; slot++) if (strengths[slot]! >= minStrength) kept.push(slot);
  // Stable: equal strengths keep the order first met.
  kept.sort((a, b) => strengths[b]! - strengths[a]!);
  return kept
    .slice(0, maxClusters)
    .map((slot): LiqCluster => {
      const key = bandKeys[slot]!;
      const short = (key & 1) === 1;
      const band = short ? (key - 1) / 2 : key / 2;
      return {
        side: short ? 'short' : 'long',
        // Clip the band to its side of the price so a band never straddles the last close.
        priceLow: short ? Math.max(band * width, last.close) : band * width,
        priceHigh: short ? (band + 1) * width : Math.min((band + 1) * width, last.close),
        strength: strengths[slot]!,
        source: 'estimated',
      };
    })
    .sort((a, b) => a.priceLow - b.priceLow);
}
