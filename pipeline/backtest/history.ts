/**
 * Longer history than one request returns: pages backwards through a market
 * source (Binance serves at most 1,000 klines a call) until `candles` closed
 * candles are collected or the source has nothing older.
 */
import type { Timeframe } from '../../common/symbols';
import type { Candle } from '../domain';
import type { MarketSource } from '../market/market-source';

export interface HistoryRequest {
  symbol: string;
  timeframe: Timeframe;
  candles: number;
  /** Newest open time wanted (epoch ms); the newest closed candle when omitted. */
  endTime?: number;
  /** Candles per request. */
  pageSize?: number;
}

export async function fetchHistory(source: MarketSource, request: HistoryRequest): Promise<Candle[]> {
  const pageSize = request.pageSize ?? 1000;
  const byTime = new Map<number, Candle>();
  let endTime = request.endTime;
  while (byTime.size < request.candles) {
    const limit = Math.min(pageSize, request.candles - byTime.size);
    const page = await source.fetchCandles(request.symbol, request.timeframe, endTime === undefined ? { limit } : { limit, endTime });
    const oldest = page[0]?.openTime;
    const before = byTime.size;
    for (const c of page) byTime.set(c.openTime, c);
    // Nothing new (the start of the listing): stop rather than ask forever.
    if (oldest === undefined || byTime.size === before) break;
    endTime = oldest - 1;
  }
  return [...byTime.values()].sort((a, b) => a.openTime - b.openTime).slice(-request.candles);
}
