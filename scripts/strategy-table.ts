/**
 * The measured table of docs/STRATEGY.md: the strategy walked forward on every
 * CSV of a folder (default ../shared/data, the team's research data; not
 * needed by the build or the tests) beside buy-and-hold, the coin flip and a
 * plain SMA 20/50 crossover, same rules and fees for all.
 *   npx tsx scripts/strategy-table.ts [DATA_DIR]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Timeframe } from '../common/symbols';
import { parseKlineCsv } from '../pipeline/backtest/kline-csv';
import { runBacktest, type BacktestReport } from '../pipeline/backtest/run-backtest';
import { decideSeries, type DecideFn } from '../pipeline/backtest/signal-series';
import type { StrategyOptions } from '../pipeline/signals/strategy';

/** Long while SMA20 > SMA50, short while below; stop 1.5 ATR, take-profit 3 ATR like the strategy. */
const smaCrossover: DecideFn = ({ candles, indicators }) => {
  const closes = candles.slice(-50).map((c) => c.close);
  const last = candles.at(-1)!.close;
  const atr = indicators.atr14;
  if (closes.length < 50 || atr === null) return { direction: 'flat', score: 0, stop: null, takeProfit: null };
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  const up = mean(closes.slice(-20)) > mean(closes);
  const s = up ? 1 : -1;
  return { direction: up ? 'long' : 'short', score: 50, stop: last - s * 1.5 * atr, takeProfit: last + s * 3 * atr };
};

const dir = process.argv[2] ?? new URL('../../shared/data', import.meta.url).pathname;
/** Optional StrategyOptions as JSON, to measure a candidate before it becomes the default. */
const strategyOptions = process.argv[3] ? (JSON.parse(process.argv[3]) as StrategyOptions) : undefined;
const pct = (x: number | null, d = 2) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(d)} %`);
const row = (r: BacktestReport) =>
  `${r.stats.trades} | ${r.stats.winRate?.toFixed(1) ?? '—'} % | ${pct(r.stats.expectancyPct, 3)} | ${r.coinFlip.percentile?.toFixed(0) ?? '—'} | ${pct(r.totalReturnPct, 0)} | ${r.maxDrawdownPct.toFixed(0)} % | ${r.edge}`;

console.log('| data | strategy | trades | win | expectancy / trade | coin-flip percentile | total return | max DD | edge | buy-and-hold | SMA 20/50: expectancy, percentile, return |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.csv')).sort()) {
  const candles = parseKlineCsv(readFileSync(join(dir, file), 'utf8'));
  const timeframe = (file.match(/-(1h|1d|4h|15m|5m|1m)-/)?.[1] ?? '1h') as Timeframe;
  const strategy = runBacktest(candles, decideSeries(candles, { timeframe, strategy: strategyOptions }));
  const sma = runBacktest(candles, decideSeries(candles, { timeframe, decide: smaCrossover }));
  console.log(`| ${file.replace('.csv', '')} | decideSignal | ${row(strategy)} | ${pct(strategy.buyHold.returnPct, 0)} | ${pct(sma.stats.expectancyPct, 3)}, ${sma.coinFlip.percentile?.toFixed(0)}, ${pct(sma.totalReturnPct, 0)} |`);
}
