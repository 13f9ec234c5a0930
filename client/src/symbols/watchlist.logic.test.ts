import { describe, expect, it } from 'vitest';
import type { OverviewItem } from '../signals/signals.logic';
import { groupWatchlist } from './watchlist.logic';

const row = (id: number, symbol: string, timeframe: string) => ({ id, symbol, timeframe });
const item = (symbol: string, timeframe: string, lastPrice: number | null, change24hPct: number | null): OverviewItem => ({
  symbol,
  timeframe,
  signal: null,
  risk: null,
  winRate30d: null,
  lastPrice,
  change24hPct,
});

describe('watchlist grouped by pair', () => {
  it('lists each pair once with its last price and 24 h change, its timeframes under it shortest first', () => {
    const rows = [row(1, 'BTC/USDT', '4h'), row(2, 'ETH/USDT', '1h'), row(3, 'BTC/USDT', '15m'), row(4, 'BTC/USDT', '1d')];
    const overview = [item('BTC/USDT', '4h', 97000, 1.5), item('BTC/USDT', '15m', 97500.5, 2.1), item('ETH/USDT', '1h', 3200.123, -0.454)];
    const groups = groupWatchlist(rows, overview);
    expect(groups.map((g) => ({ symbol: g.symbol, tfs: g.rows.map((r) => r.timeframe), price: g.price, change: g.change, trend: g.trend }))).toEqual([
      { symbol: 'BTC/USDT', tfs: ['15m', '4h', '1d'], price: '97,500.5', change: '+2.10%', trend: 'up' },
      { symbol: 'ETH/USDT', tfs: ['1h'], price: '3,200.12', change: '-0.45%', trend: 'down' },
    ]);
  });

  it('says what it does not know: no overview, no candles yet, no candle a day old', () => {
    expect(groupWatchlist([row(1, 'SOL/USDT', '1h')], null)[0]).toMatchObject({ price: '—', change: '—', trend: 'unknown' });
    expect(groupWatchlist([row(1, 'SOL/USDT', '1h')], [item('SOL/USDT', '1h', null, null)])[0]).toMatchObject({ price: '—', change: '—' });
    expect(groupWatchlist([row(1, 'SOL/USDT', '1h')], [item('SOL/USDT', '1h', 150, null)])[0]).toMatchObject({ price: '150', change: '—', trend: 'unknown' });
    expect(groupWatchlist([row(1, 'SOL/USDT', '1h')], [item('SOL/USDT', '1h', 150, 0.001)])[0]).toMatchObject({ change: '0.00%', trend: 'flat' });
  });
});
