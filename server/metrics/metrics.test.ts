import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../common/db';
import { createMigratedDatabases } from '../../test/databases';
import { createMetrics, createMetricsRoutes } from './metrics';

let dbs: Awaited<ReturnType<typeof createMigratedDatabases>>;
let db: Db;

beforeAll(async () => {
  dbs = await createMigratedDatabases();
  db = createDb({ connectionString: dbs.tradingUrl, max: 2 });
});

afterAll(async () => {
  await db?.close();
  await dbs?.drop();
});

async function record(symbol: string, timeframe: string, window: string, trades: number, wins: number, edge: string) {
  await db.query(
    `insert into public.track_record (symbol, timeframe, window_name, from_time, to_time, candles, trades, wins, max_drawdown_pct,
       total_return_pct, buy_hold_return_pct, coin_flip_draws, coin_flip_seed, edge)
     values ($1, $2, $3, now() - interval '40 days', now(), 1000, $4, $5, 5, 1, 2, 500, 1, $6)`,
    [symbol, timeframe, window, trades, wins, edge],
  );
}

describe('/metrics', () => {
  it('exports win-rate accuracy per timeframe from the track record (all window, every pair), with its trades and positive-edge pairs', async () => {
    await record('BTC/USDT', '1h', 'all', 40, 22, 'positive');
    await record('ETH/USDT', '1h', 'all', 60, 23, 'none');
    await record('ETH/USDT', '1h', '7d', 5, 5, 'none'); // another window: not counted
    await record('BTC/USDT', '1d', 'all', 10, 6, 'none');
    await record('SOL/USDT', '4h', 'all', 0, 0, 'none');
    const app = createMetricsRoutes(createMetrics({ tradingDb: db }));
    const text = await (await app.request('/')).text();
    const line = (name: string, tf: string) => text.split('\n').find((l) => l.startsWith(`${name}{timeframe="${tf}"}`));
    expect(line('zmarty_signal_win_rate_accuracy_percent', '1h')).toBe('zmarty_signal_win_rate_accuracy_percent{timeframe="1h"} 45');
    expect(line('zmarty_signal_win_rate_accuracy_percent', '1d')).toBe('zmarty_signal_win_rate_accuracy_percent{timeframe="1d"} 60');
    // No trades: no accuracy to report (not 0 %).
    expect(line('zmarty_signal_win_rate_accuracy_percent', '4h')).toBeUndefined();
    expect(line('zmarty_signal_track_record_trades', '1h')).toBe('zmarty_signal_track_record_trades{timeframe="1h"} 100');
    expect(line('zmarty_signal_positive_edge_pairs', '1h')).toBe('zmarty_signal_positive_edge_pairs{timeframe="1h"} 1');

    // The trading database gone: the scrape still answers, without these figures.
    const down = createDb({ connectionString: dbs.tradingUrl.replace(/\/[^/]+$/, '/no_such_db'), max: 1 });
    const res = await createMetricsRoutes(createMetrics({ tradingDb: down })).request('/');
    expect(res.status).toBe(200);
    expect(await res.text()).not.toContain('zmarty_signal_win_rate_accuracy_percent{');
    await down.close();
  });
});
