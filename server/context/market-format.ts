/**
 * Plain-text renderings of market facts, shared by the LLM prompt and the
 * local analyst so both describe the same numbers the same way. Pure and
 * locale-independent (always en-US digits), because answers are compared in
 * tests and read aloud.
 */
import { describeEdge as edgeSentence, noEdgeSentence, scoreInWords } from '../../common/edge';
import { formatPrice } from '../../common/format';
import type { MarketEntry, SignalFacts, WinRateFacts } from './prompt.types';

// The cards in the browser use the same formatter (common/format.ts).
export { formatPrice };

const TIMEFRAME_ORDER = ['1m', '5m', '15m', '1h', '4h', '1d'];

export function formatPct(value: number, digits = 1): string {
  return `${value.toFixed(digits)}%`;
}

/** "45 min ago", "3 h ago", "2 d ago"; "just now" under a minute; future times read as "just now". */
export function formatAge(iso: string, now: Date): string {
  const ms = now.getTime() - new Date(iso).getTime();
  if (!Number.isFinite(ms) || ms < 60_000) return 'just now';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

export function describeSignal(signal: SignalFacts, now: Date): string {
  const levels = [`entry ${formatPrice(signal.entry)}`];
  levels.push(signal.stop === null ? 'no stop' : `stop ${formatPrice(signal.stop)}`);
  levels.push(signal.takeProfit === null ? 'no take-profit' : `take-profit ${formatPrice(signal.takeProfit)}`);
  const head = `${signal.direction.toUpperCase()} (${formatAge(signal.candleTime, now)}), ${scoreInWords(signal.score)}`;
  return signal.direction === 'flat' ? `${head}, no position suggested` : `${head}: ${levels.join(', ')}`;
}

export function describeWinRate(w: WinRateFacts): string {
  if (w.trades === 0 || w.winPct === null) return 'no closed trades in that window';
  const parts = [`${formatPct(w.winPct)} over ${w.trades} trade${w.trades === 1 ? '' : 's'}`];
  if (w.profitFactor !== undefined && w.profitFactor !== null) parts.push(`profit factor ${w.profitFactor.toFixed(2)}`);
  if (w.expectancyPct !== undefined && w.expectancyPct !== null) parts.push(`expectancy ${formatPct(w.expectancyPct, 2)} per trade`);
  return parts.join(', ');
}

export function describeRisk(risk: NonNullable<MarketEntry['risk']>): string {
  return `${risk.regime} volatility regime (realized vol ${formatPct(risk.realizedVol * 100)}, ATR ${formatPct(risk.atrPct, 2)}, drawdown ${formatPct(risk.drawdownPct)})`;
}

/** Top reasons as short "indicator: detail" strings (the shape the pipeline writes), at most `limit`. */
export function topReasons(reasons: unknown, limit = 3): string[] {
  if (!Array.isArray(reasons)) return [];
  return reasons
    .filter((r): r is { indicator: string; detail: string; weight?: number } => typeof r?.indicator === 'string' && typeof r?.detail === 'string')
    .sort((a, b) => (b.weight ?? 0) - (a.weight ?? 0))
    .slice(0, limit)
    .map((r) => `${r.indicator}: ${r.detail}`.slice(0, 100));
}

/** Watchlist order: by symbol, then timeframe from shortest to longest. */
export function sortEntries<T extends { symbol: string; timeframe: string }>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => a.symbol.localeCompare(b.symbol) || TIMEFRAME_ORDER.indexOf(a.timeframe) - TIMEFRAME_ORDER.indexOf(b.timeframe));
}

/**
 * The edge behind a pair's signals, said plainly: "on ETH/USDT 1h this
 * strategy has not beaten chance over the last 1,000 hours (expectancy …)".
 * Without a measured edge it says that instead, so a signal never goes out
 * without one or the other.
 */
export function describeEdge(e: Pick<MarketEntry, 'symbol' | 'timeframe' | 'edge'>): string {
  return e.edge ? edgeSentence(e.symbol, e.timeframe, e.edge) : noEdgeSentence(e.symbol, e.timeframe);
}
