import type { Db } from '../../common/db';
import type { EdgeFacts, TrackRecordSummary } from '../../common/edge';
import type { SignalRow } from '../../common/events';
import type { LiqClusterFacts } from '../context';

/** Read side of the trading database for the server: what chat context, the overview and charts need. */

export interface MarketSnapshot {
  symbol: string;
  timeframe: string;
  signal: SignalRow | null;
  risk: { regime: string; realizedVol: number; atrPct: number; drawdownPct: number; candleTime: string } | null;
  /** From the track record's 30d and all windows (independent trades), kept in this shape for existing readers. */
  winRate30d: { winPct: number | null; trades: number; profitFactor: number | null; expectancyPct: number | null } | null;
  winRateAll: { winPct: number | null; trades: number } | null;
  /** The walk-forward track record per window ('7d', '30d', 'all') against buy-and-hold and the coin flip. */
  trackRecord: TrackRecordSummary[];
  /** The edge the latest signal carries (measured when it was made); null without a signal or a track record. */
  edge: EdgeFacts | null;
  lastPrice: number | null;
  /** Close of the latest candle vs the close 24 h before it, %; null without both candles. */
  change24hPct: number | null;
}

export const signalColumns = `id, symbol, timeframe, candle_time as "candleTime", direction, score, entry, stop,
  take_profit as "takeProfit", reasons, doubling, edge, created_at as "createdAt"`;

export function toSignalRow(row: Record<string, unknown>): SignalRow {
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));
  return { ...(row as unknown as SignalRow), candleTime: iso(row.candleTime), createdAt: iso(row.createdAt) };
}

/**
 * Per pair `p`: the latest candle `l` and the last candle at least 24 h older `d`,
 * each a primary-key lookup; shared by the overview (watchlist) and the chat's extras.
 */
const LAST_AND_DAY_AGO = `left join lateral (select open_time, close from public.candles where symbol = p.symbol and timeframe = p.timeframe
                        order by open_time desc limit 1) l on true
     left join lateral (select close from public.candles where symbol = p.symbol and timeframe = p.timeframe
                          and open_time <= l.open_time - interval '24 hours' order by open_time desc limit 1) d on true`;

function changePct(last: number | null, dayAgo: number | null): number | null {
  return last !== null && dayAgo !== null && dayAgo > 0 ? ((last - dayAgo) / dayAgo) * 100 : null;
}

/** Latest signal, risk, win rates, last price and 24 h change for each watched pair, in one round trip. */
export async function loadMarketSnapshots(db: Db, pairs: Array<{ symbol: string; timeframe: string }>): Promise<MarketSnapshot[]> {
  if (pairs.length === 0) return [];
  const rows = await db.query<Record<string, unknown>>(
    `with pairs as (select * from unnest($1::text[], $2::text[]) as p(symbol, timeframe))
     select p.symbol, p.timeframe,
       (select row_to_json(s) from (select ${signalColumns} from public.signals
          where symbol = p.symbol and timeframe = p.timeframe order by candle_time desc limit 1) s) as signal,
       (select json_build_object('regime', regime, 'realizedVol', realized_vol, 'atrPct', atr_pct, 'drawdownPct', drawdown_pct, 'candleTime', candle_time)
          from public.risk_metric where symbol = p.symbol and timeframe = p.timeframe order by candle_time desc limit 1) as risk,
       (select coalesce(json_agg(json_build_object('window', window_name, 'fromTime', from_time, 'toTime', to_time, 'candles', candles,
            'trades', trades, 'winRate', win_rate, 'winRateLow', win_rate_low, 'winRateHigh', win_rate_high,
            'profitFactor', profit_factor, 'expectancyPct', expectancy_pct, 'maxDrawdownPct', max_drawdown_pct,
            'totalReturnPct', total_return_pct, 'buyHoldReturnPct', buy_hold_return_pct,
            'coinFlip', json_build_object('draws', coin_flip_draws, 'seed', coin_flip_seed, 'medianExpectancyPct', coin_flip_median_pct,
              'p5', coin_flip_p5_pct, 'p95', coin_flip_p95_pct, 'percentile', coin_flip_percentile),
            'edge', edge, 'equity', equity) order by array_position(array['7d', '30d', 'all'], window_name)), '[]')
          from public.track_record where symbol = p.symbol and timeframe = p.timeframe) as "trackRecord",
       l.close as "lastPrice", d.close as "dayAgoPrice"
     from pairs p
     ${LAST_AND_DAY_AGO}`,
    [pairs.map((p) => p.symbol), pairs.map((p) => p.timeframe)],
  );
  return rows.map((r) => ({
    symbol: String(r.symbol),
    timeframe: String(r.timeframe),
    signal: r.signal ? toSignalRow(r.signal as Record<string, unknown>) : null,
    risk: (r.risk as MarketSnapshot['risk']) ?? null,
    ...fromTrackRecord(r.trackRecord as TrackRecordSummary[]),
    edge: r.signal ? (((r.signal as Record<string, unknown>).edge as EdgeFacts | null) ?? null) : null,
    lastPrice: (r.lastPrice as number | null) ?? null,
    change24hPct: changePct(r.lastPrice as number | null, r.dayAgoPrice as number | null),
  }));
}

function fromTrackRecord(trackRecord: TrackRecordSummary[]): Pick<MarketSnapshot, 'trackRecord' | 'winRate30d' | 'winRateAll'> {
  const w30 = trackRecord.find((t) => t.window === '30d');
  const all = trackRecord.find((t) => t.window === 'all');
  return {
    trackRecord,
    winRate30d: w30 ? { winPct: w30.winRate, trades: w30.trades, profitFactor: w30.profitFactor, expectancyPct: w30.expectancyPct } : null,
    winRateAll: all ? { winPct: all.winRate, trades: all.trades } : null,
  };
}

export async function loadCandles(db: Db, input: { symbol: string; timeframe: string; limit: number }) {
  const candles = await db.query<{ time: number; open: number; high: number; low: number; close: number; volume: number }>(
    `select * from (select extract(epoch from open_time)::bigint as time, open, high, low, close, volume
       from public.candles where symbol = $1 and timeframe = $2 order by open_time desc limit $3) c order by time`,
    [input.symbol, input.timeframe, input.limit],
  );
  const clusters = await db.query(
    `select side, price_low as "priceLow", price_high as "priceHigh", strength, source from public.liq_clusters
     where symbol = $1 and timeframe = $2
       and candle_time = (select max(candle_time) from public.liq_clusters where symbol = $1 and timeframe = $2)
     order by strength desc limit 20`,
    [input.symbol, input.timeframe],
  );
  return { candles, clusters };
}


export interface MarketExtras {
  symbol: string;
  timeframe: string;
  /** Close of the latest candle vs the close 24 h before it, %; null without both candles. */
  change24hPct: number | null;
  /** The latest liquidation map's clusters nearest the last price (at most `clusters`), nearest first. */
  clusters: LiqClusterFacts[];
}

/**
 * What the chat needs beyond the snapshot, in one round trip: the 24 h change
 * and the liquidation clusters nearest the price. Bounded: one candle each
 * side of the 24 h span (primary-key lookups) and `clusters` rows per pair.
 */
export async function loadMarketExtras(db: Db, pairs: Array<{ symbol: string; timeframe: string }>, options: { clusters?: number } = {}): Promise<MarketExtras[]> {
  if (pairs.length === 0) return [];
  const rows = await db.query<{ symbol: string; timeframe: string; last: number | null; dayAgo: number | null; clusters: LiqClusterFacts[] | null }>(
    `with pairs as (select * from unnest($1::text[], $2::text[]) as p(symbol, timeframe))
     select p.symbol, p.timeframe, l.close as last, d.close as "dayAgo",
       (select json_agg(c) from (
          select side, price_low as "priceLow", price_high as "priceHigh", strength, source from public.liq_clusters
          where symbol = p.symbol and timeframe = p.timeframe
            and candle_time = (select max(candle_time) from public.liq_clusters where symbol = p.symbol and timeframe = p.timeframe)
          order by case when l.close between price_low and price_high then 0 else least(abs(price_low - l.close), abs(price_high - l.close)) end, strength desc
          limit $3) c) as clusters
     from pairs p
     ${LAST_AND_DAY_AGO}`,
    [pairs.map((p) => p.symbol), pairs.map((p) => p.timeframe), options.clusters ?? 6],
  );
  return rows.map((r) => ({
    symbol: r.symbol,
    timeframe: r.timeframe,
    change24hPct: changePct(r.last, r.dayAgo),
    clusters: r.clusters ?? [],
  }));
}
