/**
 * The measured tables of docs/STRATEGY.md: the strategy walked forward on every
 * CSV of a folder (default ../shared/data, the team's research data; not
 * needed by the build or the tests) beside buy-and-hold, the coin flip and a
 * plain SMA 20/50 crossover, same rules and fees for all; then the score's
 * reliability, in sample and out of sample.
 *   npx tsx scripts/strategy-table.ts [DATA_DIR] [STRATEGY_OPTIONS_JSON]
 *   npx tsx scripts/strategy-table.ts [DATA_DIR] --calibrate   (prints score-calibration.table.ts's fit)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Timeframe } from '../common/symbols';
import { parseKlineCsv } from '../pipeline/backtest/kline-csv';
import { runBacktest, type BacktestReport } from '../pipeline/backtest/run-backtest';
import { decideSeries, type DecideFn } from '../pipeline/backtest/signal-series';
import { monotoneWithinInterval, reliabilityTable, type ReliabilityRow } from '../pipeline/backtest/metrics';
import { calibratedScore, calibrationGroup, fitCalibration, outOfSampleReliability, splitAtMiddle, type CalibrationGroup } from '../pipeline/signals/score-calibration';
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

const args = process.argv.slice(2);
const calibrate = args.includes('--calibrate');
const positional = args.filter((a) => !a.startsWith('--'));
const dir = positional[0] ?? new URL('../../shared/data', import.meta.url).pathname;
/** Optional StrategyOptions as JSON, to measure a candidate before it becomes the default. */
const strategyOptions = positional[1] ? (JSON.parse(positional[1]) as StrategyOptions) : undefined;
const pct = (x: number | null, d = 2) => (x === null ? '—' : `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(d)} %`);

interface Run {
  file: string;
  group: CalibrationGroup;
  strategy: BacktestReport;
  sma: BacktestReport;
}
const runs: Run[] = [];
for (const file of readdirSync(dir).filter((f) => f.endsWith('.csv')).sort()) {
  const candles = parseKlineCsv(readFileSync(join(dir, file), 'utf8'));
  const timeframe = (file.match(/-(1h|1d|4h|15m|5m|1m)-/)?.[1] ?? '1h') as Timeframe;
  const strategy = runBacktest(candles, decideSeries(candles, { timeframe, strategy: strategyOptions }));
  const sma = calibrate ? strategy : runBacktest(candles, decideSeries(candles, { timeframe, decide: smaCrossover }));
  runs.push({ file: file.replace('.csv', ''), group: calibrationGroup(timeframe), strategy, sma });
}
const groups: CalibrationGroup[] = ['intraday', 'daily'];
const tradesOf = (g: CalibrationGroup) => runs.filter((r) => r.group === g).flatMap((r) => r.strategy.trades);

if (calibrate) {
  const table = Object.fromEntries(groups.map((g) => [g, fitCalibration(tradesOf(g))]));
  console.log(JSON.stringify(table, null, 2));
  process.exit(0);
}

console.log('| data | trades | win rate | expectancy / trade | coin-flip median | coin-flip percentile | total return | max DD | edge | buy-and-hold | SMA 20/50: expectancy, percentile, return |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const { file, strategy: r, sma } of runs) {
  console.log(
    `| ${file} | ${r.stats.trades} | ${r.stats.winRate?.toFixed(1) ?? '—'} % | ${pct(r.stats.expectancyPct, 3)} | ${pct(r.coinFlip.medianExpectancyPct, 3)} | ${r.coinFlip.percentile?.toFixed(0) ?? '—'} | ${pct(r.totalReturnPct, 0)} | ${r.maxDrawdownPct.toFixed(0)} % | ${r.edge} | ${pct(r.buyHold.returnPct, 0)} | ${pct(sma.stats.expectancyPct, 3)}, ${sma.coinFlip.percentile?.toFixed(0)}, ${pct(sma.totalReturnPct, 0)} |`,
  );
}

const bandRows = (bands: readonly ReliabilityRow[]) =>
  bands.map((b) => `${b.score}: ${b.trades} trades, win ${b.winRate.toFixed(1)} % [${b.winRateLow.toFixed(1)}, ${b.winRateHigh.toFixed(1)}], ${pct(b.expectancyPct, 3)}`).join('; ');

console.log('\nScore reliability, in sample (the committed calibration, shown score → trades, win rate [95 % Wilson], expectancy):');
for (const { file, strategy } of runs) console.log(`- ${file}: ${bandRows(reliabilityTable(strategy.trades))}`);

// Out of sample: each file split at the middle of its traded window; the fit sees the earlier halves of
// its group's files only, and scores the trades of the later halves.
console.log('\nScore reliability, out of sample (fit on the earlier half of every file of the group, read on the later half):');
const pooled: Array<{ score: number; returnPct: number }> = [];
for (const g of groups) {
  const halves = runs.filter((r) => r.group === g).map((r) => splitAtMiddle(r.strategy.trades, r.strategy.from, r.strategy.to));
  const oos = outOfSampleReliability(
    halves.flatMap((h) => h.earlier),
    halves.flatMap((h) => h.later),
  );
  pooled.push(...halves.flatMap((h) => h.later).map((t) => ({ score: calibratedScore(oos.fit, t.vote), returnPct: t.returnPct })));
  console.log(
    `- ${g}: fit ${oos.fit.map((s) => `vote ≥ ${s.vote} → ${s.winPct.toFixed(1)} % (${s.trades})`).join(', ')}; later half: ${bandRows(oos.rows)}; monotone within interval: ${monotoneWithinInterval(oos.rows)}`,
  );
}
const all = reliabilityTable(pooled);
console.log(`- every file, each scored by its group's fit: ${bandRows(all)}; monotone within interval: ${monotoneWithinInterval(all)}`);
