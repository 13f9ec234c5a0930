import { formatPrice, formatSignedPct } from '../../../common/format';
import { TIMEFRAMES } from '../../../common/symbols';
import type { OverviewItem } from '../signals/signals.logic';

export interface PairGroup<Row extends { symbol: string; timeframe: string }> {
  symbol: string;
  /** The pair's timeframes, shortest first, as exchange apps list them under the pair. */
  rows: Row[];
  /** "97,500.5" or "—"; the shortest timeframe's latest close is the freshest price. */
  price: string;
  /** "+2.10%", "-0.45%" or "—"; `trend` colours it. */
  change: string;
  trend: 'up' | 'down' | 'flat' | 'unknown';
}

const tfRank = (tf: string) => {
  const i = (TIMEFRAMES as readonly string[]).indexOf(tf);
  return i === -1 ? TIMEFRAMES.length : i;
};

/** The watchlist by pair: each pair once (in the order first added), its last price and 24 h change, its timeframes under it. */
export function groupWatchlist<Row extends { symbol: string; timeframe: string }>(rows: readonly Row[], overview: readonly OverviewItem[] | null): PairGroup<Row>[] {
  const bySymbol = new Map<string, Row[]>();
  for (const row of rows) bySymbol.set(row.symbol, [...(bySymbol.get(row.symbol) ?? []), row]);
  return [...bySymbol].map(([symbol, list]) => {
    const sorted = [...list].sort((a, b) => tfRank(a.timeframe) - tfRank(b.timeframe));
    const priced = sorted
      .map((r) => overview?.find((o) => o.symbol === symbol && o.timeframe === r.timeframe))
      .find((o) => o?.lastPrice != null && Number.isFinite(o.lastPrice));
    const pct = priced?.change24hPct;
    const known = pct != null && Number.isFinite(pct);
    const change = known ? formatSignedPct(pct) : '—';
    return {
      symbol,
      rows: sorted,
      price: priced ? formatPrice(priced.lastPrice!) : '—',
      change,
      trend: !known ? 'unknown' : change.startsWith('+') ? 'up' : change.startsWith('-') ? 'down' : 'flat',
    };
  });
}
