import path from 'node:path';
import pg from 'pg';
import { migrate } from './common/migrate';
import { analysisStore } from './pipeline/storage/analysis.store';
const admin = new pg.Pool({ connectionString: 'postgres://postgres:pw@127.0.0.1:55432/postgres', max: 1 });
await admin.query('drop database if exists plans with (force)');
await admin.query('create database plans');
await admin.end();
const pool = new pg.Pool({ connectionString: 'postgres://postgres:pw@127.0.0.1:55432/plans', max: 2 });
await migrate(pool, path.resolve('sql/trading'));
const T0 = Date.UTC(2025, 0, 1), TF = 300_000;
await pool.query(
    `with w as (select 'W' || g || '/USDT' as symbol from generate_series(1, 1000) g),
          t as (select timestamptz 'epoch' + ($1::float8 + g * $2::float8) * interval '1 millisecond' as ts, g from generate_series(0, 999) g)
     , c as (insert into public.candles (symbol, timeframe, open_time, open, high, low, close, volume, source)
             select symbol, '5m', ts, 10, 11, 9, 10, 5, 'simulated' from w, t)
     , i as (insert into public.indicators (symbol, timeframe, candle_time, values) select symbol, '5m', ts, '{"rsi":50,"ema":[1,2,3]}' from w, t where g >= 990)
     , l as (insert into public.liq_clusters (symbol, timeframe, candle_time, source, side, price_low, price_high, strength)
             select symbol, '5m', ts, 'estimated', side, 8, 9, 0.5 from w, t, (values ('long'), ('short')) s(side) where g >= 990)
     , r as (insert into public.risk_metric (symbol, timeframe, candle_time, realized_vol, atr_pct, drawdown_pct, volume_z, regime)
             select symbol, '5m', ts, 0.5, 1, 0, 0, 'normal' from w, t where g >= 990)
     insert into public.signals (symbol, timeframe, candle_time, direction, score, entry) select symbol, '5m', ts, case when g % 3 = 0 then 'long' else 'flat' end, 50, 10 from w, t where g >= 990 and g < 999`,
    [T0, TF]);
await pool.query('vacuum analyze');
const keys = Array.from({ length: 50 }, (_, i) => ({ key: { symbol: `W${i + 1}/USDT`, timeframe: '5m' as const }, lookback: 50, openForMs: 24 * TF }));
const client = await pool.connect();
const spy = { query: async (text: string, values: unknown[]) => { const r = await client.query(`explain (analyze, buffers) ${text}`, values); console.log(r.rows.map((x: any) => x['QUERY PLAN']).join('\n')); return { rows: [] } as any; } };
await analysisStore.loadSignalInputsMany(spy as any, keys);
for (let k = 0; k < 3; k++) { const t = performance.now(); await analysisStore.loadSignalInputsMany(pool, keys); console.log('real', (performance.now() - t).toFixed(1), 'ms'); }
client.release();
await pool.end();
