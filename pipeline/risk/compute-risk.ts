/**
 * Risk of the newest candle of a series, from that series only (no look-ahead):
 *
 *  realizedVol  sample standard deviation of the last VOL_WINDOW log returns
 *               (close to close), annualised with √(candles per year). Crypto
 *               trades around the clock, so a year is 365 × 24 h of candles.
 *  atrPct       Wilder ATR(14) as a percentage of the last close (1.5 = 1.5 %).
 *  drawdownPct  how far the last close sits below the highest high of the last
 *               DRAWDOWN_WINDOW candles, as a positive percentage (0 at the high).
 *  volumeZ      z-score of the last volume against the VOLUME_WINDOW volumes
 *               before it (0 when they do not vary).
 *  regime       from realizedVol (annualised): < 35 % low, < 80 % normal,
 *               < 150 % high, otherwise extreme. BTC usually sits in 35–80 %;
 *               alts and crashes push into high/extreme.
 */
import { ATR } from 'trading-signals';
import { AppError } from '../../common/errors';
import { TIMEFRAME_MS, TIMEFRAMES, type Timeframe } from '../../common/symbols';
import type { Candle, RiskMetric, VolatilityRegime } from '../domain';

export const VOL_WINDOW = 30;
export const DRAWDOWN_WINDOW = 100;
export const VOLUME_WINDOW = 20;
/** The newest candles computeRisk reads when it is given the ATR: the rest of a window changes nothing. */
export const RISK_CANDLES = Math.max(VOL_WINDOW + 1, DRAWDOWN_WINDOW, VOLUME_WINDOW + 1);
const YEAR_MS = 365 * 86_400_000;

/** Upper bounds (exclusive) of annualised realised vol per regime; anything above the last is extreme. */
export const REGIME_THRESHOLDS: ReadonlyArray<readonly [VolatilityRegime, number]> = [
  ['low', 0.35],
  ['normal', 0.8],
  ['high', 1.5],
];

export function regimeOf(realizedVol: number): VolatilityRegime {
  for (const [regime, upper] of REGIME_THRESHOLDS) if (realizedVol < upper) return regime;
  return 'extreme';
}

/**
 * @param timeframe the candles' timeframe, for annualising; when omitted it is
 *   inferred from the median spacing of the candles.
 * @param atr14 the Wilder ATR(14) at the newest candle when the caller has it
 *   already: the indicators' `atr14`, the same library's ATR fed from at least
 *   600 candles back (the live window holds 900 or more, the walk-forward's
 *   warm-up 600), where the seed has decayed by (13/14)^586 < 1e-18 of the
 *   value, below a double's precision: the ATR of these candles. Without it
 *   the ATR is run over every candle given, which was most of a new watcher's
 *   history walk-forward (a 1,000-candle ATR at each of ~1,400 candles).
 */
export function computeRisk(candles: readonly Candle[], timeframe?: Timeframe, atr14?: number | null): RiskMetric {
  const last = candles.at(-1);
  if (!last) throw new AppError('bad_request', 'computeRisk needs at least one candle');
  const tfMs = timeframe ? TIMEFRAME_MS[timeframe] : inferTimeframeMs(candles);

  // Realised volatility over the last VOL_WINDOW returns.
  const from = Math.max(1, candles.length - VOL_WINDOW);
  const returns: number[] = [];
  for (let i = from; i < candles.length; i++) {
    const prev = candles[i - 1];
    const cur = candles[i];
    if (prev && cur) returns.push(Math.log(cur.close / prev.close));
  }
  const realizedVol = returns.length >= 2 ? stdev(returns) * Math.sqrt(YEAR_MS / tfMs) : 0;

  const atrValue = typeof atr14 === 'number' ? atr14 : wilderAtr(candles);
  const atrPct = (atrValue / last.close) * 100;

  let rollingHigh = 0;
  for (let i = Math.max(0, candles.length - DRAWDOWN_WINDOW); i < candles.length; i++) rollingHigh = Math.max(rollingHigh, candles[i]!.high);
  const drawdownPct = rollingHigh > 0 ? Math.max(0, (1 - last.close / rollingHigh) * 100) : 0;

  const prior = candles.slice(Math.max(0, candles.length - 1 - VOLUME_WINDOW), candles.length - 1).map((c) => c.volume);
  let volumeZ = 0;
  if (prior.length >= 2) {
    const sd = stdev(prior);
    volumeZ = sd > 0 ? (last.volume - mean(prior)) / sd : 0;
  }

  return { realizedVol: clean(realizedVol), atrPct: clean(atrPct), drawdownPct: clean(drawdownPct), volumeZ: clean(volumeZ), regime: regimeOf(clean(realizedVol)) };
}

/** ATR (Wilder) needs 14 candles; with fewer, the mean true range so far is the honest estimate. */
function wilderAtr(candles: readonly Candle[]): number {
  const atr = new ATR(14);
  let trSum = 0;
  for (let i = 0; i < candles.length; i++) {
    const c = candles[i]!;
    atr.add(c);
    const prevClose = candles[i - 1]?.close ?? c.close;
    trSum += Math.max(c.high - c.low, Math.abs(c.high - prevClose), Math.abs(c.low - prevClose));
  }
  return atr.getResult() ?? trSum / candles.length;
}

function inferTimeframeMs(candles: readonly Candle[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < candles.length; i++) gaps.push(candles[i]!.openTime - candles[i - 1]!.openTime);
  gaps.sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)];
  if (!median || median <= 0) return TIMEFRAME_MS['1h'];
  // Snap to the nearest known timeframe so a missing candle does not distort the annualisation.
  return TIMEFRAMES.map((t) => TIMEFRAME_MS[t]).reduce((best, ms) => (Math.abs(Math.log(ms / median)) < Math.abs(Math.log(best / median)) ? ms : best));
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, x) => a + x, 0) / xs.length;
}

/** Sample standard deviation (n − 1). */
function stdev(xs: readonly number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) * (x - m), 0) / (xs.length - 1));
}

/** Storage columns are NOT NULL double precision: never hand them NaN or ±Infinity. */
function clean(x: number): number {
  return Number.isFinite(x) ? x : 0;
}
