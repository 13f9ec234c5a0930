import type { TrackRecordSummary } from '../../../common/edge';
import type { SignalRow } from '../../../common/events';
import { formatPrice as formatSharedPrice, formatSignedPct } from '../../../common/format';

/** `GET /api/symbols/overview` item. */
export interface OverviewItem {
  symbol: string;
  timeframe: string;
  signal: SignalRow | null;
  risk: { regime: string; realizedVol: number; atrPct: number } | null;
  winRate30d: { winPct: number | null; trades: number } | null;
  /** The walk-forward track record per window; absent when the market data is unavailable. */
  trackRecord?: TrackRecordSummary[];
  /** Latest close and its change over 24 h, %; absent or null without candles. */
  lastPrice?: number | null;
  change24hPct?: number | null;
}

export interface LiqClusterBand {
  side: 'long' | 'short';
  priceLow: number;
  priceHigh: number;
  strength: number;
}

export const FEED_LIMIT = 50;

/** Adds signals to the feed: newest first, each id once (a resubscribe with `sinceId` may replay). */
export function mergeSignals(feed: readonly SignalRow[], incoming: readonly SignalRow[], limit = FEED_LIMIT): SignalRow[] {
  const byId = new Map<number, SignalRow>();
  for (const s of feed) byId.set(s.id, s);
  let added = false;
  for (const s of incoming) {
    if (!byId.has(s.id)) added = true;
    byId.set(s.id, s);
  }
  if (!added && incoming.length === 0) return feed as SignalRow[];
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, limit);
}

/** The highest signal id seen: `signals:subscribe.sinceId`, so missed signals are replayed. */
export function maxSignalId(...lists: ReadonlyArray<readonly { id: number }[]>): number | undefined {
  let max: number | undefined;
  for (const list of lists) for (const s of list) if (max === undefined || s.id > max) max = s.id;
  return max;
}

/**
 * Whether a pushed signal deserves an alert: the first one seen for its pair and
 * timeframe, or one whose direction differs from the latest earlier one. The
 * pipeline re-emits a signal every candle, so a FLAT (or unchanged LONG) refresh
 * would otherwise alert every hour; replays of known ids never alert.
 */
export function isDirectionChange(feed: readonly SignalRow[], signal: SignalRow): boolean {
  let previous: SignalRow | undefined;
  for (const s of feed) {
    if (s.id === signal.id) return false;
    if (s.symbol !== signal.symbol || s.timeframe !== signal.timeframe || s.id > signal.id) continue;
    if (!previous || s.id > previous.id) previous = s;
  }
  return !previous || previous.direction !== signal.direction;
}

/** Cards and alerts of pairs no longer watched go; `null` (the list is still loading) keeps everything. */
export function keepWatched<T extends Pick<SignalRow, 'symbol' | 'timeframe'>>(
  list: readonly T[],
  watched: ReadonlyArray<{ symbol: string; timeframe: string }> | null,
): T[] {
  if (!watched) return list as T[];
  const keys = new Set(watched.map((w) => `${w.symbol}|${w.timeframe}`));
  const kept = list.filter((s) => keys.has(`${s.symbol}|${s.timeframe}`));
  return kept.length === list.length ? (list as T[]) : kept;
}

/** A new signal replaces the row's latest one when it is for the same pair and timeframe and newer. */
export function applySignalToOverview(items: readonly OverviewItem[], signal: SignalRow): OverviewItem[] {
  let changed = false;
  const next = items.map((item) => {
    if (item.symbol !== signal.symbol || item.timeframe !== signal.timeframe) return item;
    if (item.signal && item.signal.id >= signal.id) return item;
    changed = true;
    return { ...item, signal };
  });
  return changed ? next : (items as OverviewItem[]);
}

export interface ReasonLine {
  label: string;
  vote?: 'long' | 'short' | 'neutral';
  detail: string;
}

/**
 * `signals.reasons` is jsonb: the pipeline writes `[{indicator, vote, weight, detail}]`,
 * but the column accepts anything, so unknown shapes degrade to text rather than break the page.
 */
export function reasonsToList(reasons: unknown): ReasonLine[] {
  if (reasons == null) return [];
  if (typeof reasons === 'string') return reasons.trim() ? [{ label: '', detail: reasons }] : [];
  if (Array.isArray(reasons)) return reasons.flatMap((r) => reasonItem(r));
  if (typeof reasons === 'object') {
    return Object.entries(reasons as Record<string, unknown>).map(([key, value]) => ({ label: key, detail: textOf(value) }));
  }
  return [{ label: '', detail: String(reasons) }];
}

function reasonItem(r: unknown): ReasonLine[] {
  if (r == null) return [];
  if (typeof r !== 'object') return [{ label: '', detail: String(r) }];
  const o = r as Record<string, unknown>;
  const label = String(o.indicator ?? o.name ?? o.label ?? '');
  const vote = o.vote === 'long' || o.vote === 'short' || o.vote === 'neutral' ? o.vote : undefined;
  const detail = typeof o.detail === 'string' ? o.detail : typeof o.text === 'string' ? o.text : label ? '' : textOf(o);
  const weight = typeof o.weight === 'number' ? ` (weight ${formatNumber(o.weight)})` : '';
  return [{ label, vote, detail: detail + weight }];
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export interface PriceLevel {
  price: number;
  kind: 'entry' | 'stop' | 'take_profit' | 'liq_long' | 'liq_short';
  title: string;
}

/** Lines drawn on the chart: the signal's levels plus the strongest liquidation bands (at their middle). */
export function chartLevels(
  signal: Pick<SignalRow, 'entry' | 'stop' | 'takeProfit'> & { direction?: SignalRow['direction'] },
  clusters: readonly LiqClusterBand[],
  maxClusters = 6,
): PriceLevel[] {
  const levels: PriceLevel[] = [];
  // A FLAT signal recommends no trade: its "entry" is only the last price, so no trade levels are drawn.
  if (signal.direction !== 'flat') {
    levels.push({ price: signal.entry, kind: 'entry', title: 'Entry' });
    if (signal.stop != null) levels.push({ price: signal.stop, kind: 'stop', title: 'Stop' });
    if (signal.takeProfit != null) levels.push({ price: signal.takeProfit, kind: 'take_profit', title: 'Take profit' });
  }
  const strongest = clusters
    .filter((c) => Number.isFinite(c.priceLow) && Number.isFinite(c.priceHigh) && Number.isFinite(c.strength))
    .sort((a, b) => b.strength - a.strength)
    .slice(0, maxClusters);
  for (const c of strongest) {
    levels.push({
      price: (c.priceLow + c.priceHigh) / 2,
      kind: c.side === 'long' ? 'liq_long' : 'liq_short',
      title: `Liq ${c.side} ${Math.round(c.strength * 100)}%`,
    });
  }
  return levels.filter((l) => Number.isFinite(l.price));
}

/**
 * Which levels keep their price label on the axis: labels are about one line
 * of text tall, so two levels closer than that on screen would print over each
 * other. Levels come in priority order (the trade's own levels first, then
 * liquidation bands by strength); a level too close to one already labelled
 * keeps its line but loses its label. `y` is each level's pixel position
 * (null when off-screen or unknown: it keeps its label).
 */
export function labelledLevels<L extends { price: number }>(levels: readonly L[], y: (price: number) => number | null, minGapPx = 18): Array<L & { label: boolean }> {
  const taken: number[] = [];
  return levels.map((level) => {
    const at = y(level.price);
    if (at === null || !Number.isFinite(at)) return { ...level, label: true };
    const label = taken.every((other) => Math.abs(other - at) >= minGapPx);
    if (label) taken.push(at);
    return { ...level, label };
  });
}

/** The chat's formatter (common/format.ts), so a price reads the same in an answer and on a card; '—' when missing. */
export function formatPrice(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '—';
  return formatSharedPrice(value);
}

export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) < 10 ? 2 : 1);
}

/** Percent change from entry, signed, e.g. "+2.10%". */
export function pctFromEntry(entry: number, level: number | null): string {
  if (level == null || !entry) return '';
  return formatSignedPct(((level - entry) / entry) * 100);
}

export function formatWinRate(win: OverviewItem['winRate30d']): string {
  if (!win || win.trades === 0 || win.winPct == null) return 'no trades yet';
  return `${Math.round(win.winPct)}% of ${win.trades}`;
}

export interface ChartCandle {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

/** The chart library throws on unsorted or repeated times: sort, keep the last of each time, drop broken rows. */
export function toChartCandles(candles: ReadonlyArray<ChartCandle>): ChartCandle[] {
  const byTime = new Map<number, ChartCandle>();
  for (const c of candles) {
    if (![c.time, c.open, c.high, c.low, c.close].every(Number.isFinite)) continue;
    byTime.set(c.time, { time: c.time, open: c.open, high: c.high, low: c.low, close: c.close });
  }
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

/** `doubling` is jsonb: `{recommended, blockedBy, detail}` from the pipeline, anything else is ignored. */
export function doublingText(doubling: unknown): string | null {
  if (!doubling || typeof doubling !== 'object') return null;
  const d = doubling as { recommended?: unknown; detail?: unknown };
  if (typeof d.recommended !== 'boolean') return null;
  const detail = typeof d.detail === 'string' && d.detail ? `: ${d.detail}` : '';
  return `${d.recommended ? 'Adding to the position is recommended' : 'Do not add to the position'}${detail}`;
}

const signedPct = (v: number | null, digits = 2) => (v == null ? '—' : formatSignedPct(v, digits));

/** The lines of a track-record card: the strategy against buy-and-hold and chance over the same window. */
export function trackRecordLines(t: TrackRecordSummary): { label: string; value: string }[] {
  const win =
    t.winRate == null
      ? '—'
      : `${Math.round(t.winRate)}%` + (t.winRateLow != null && t.winRateHigh != null ? ` (95%: ${Math.round(t.winRateLow)}–${Math.round(t.winRateHigh)}%)` : '');
  return [
    { label: 'Trades', value: String(t.trades) },
    { label: 'Win rate', value: win },
    { label: 'Per trade', value: `${signedPct(t.expectancyPct)} vs coin flip ${signedPct(t.coinFlip.medianExpectancyPct)}` },
    { label: 'Beats coin flips', value: t.coinFlip.percentile == null ? '—' : `${Math.round(t.coinFlip.percentile)}%` },
    { label: 'Return', value: `${signedPct(t.totalReturnPct, 1)} vs hold ${signedPct(t.buyHoldReturnPct, 1)}` },
    { label: 'Max drawdown', value: `${t.maxDrawdownPct.toFixed(1)}%` },
    { label: 'Profit factor', value: t.profitFactor == null ? '—' : t.profitFactor.toFixed(2) },
  ];
}
