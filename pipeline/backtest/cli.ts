/**
 * `npm run backtest -- --csv PATH --symbol BTC/USDT --timeframe 1h [--from …] [--to …] [--json] [--html report.html]`
 * `npm run backtest -- --source binance --symbol BTC/USDT --timeframe 1h [--candles 2000]`
 *
 * Walks the pipeline's own strategy forward over the candles and prints the
 * track record beside buy-and-hold and the coin-flip baseline. The candles
 * before --from still warm the indicators up; trading starts at --from or at
 * the end of the warm-up, whichever is later.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { symbolSchema, timeframeSchema, TIMEFRAME_MS, type Timeframe } from '../../common/symbols';
import type { Candle } from '../domain';
import { INDICATOR_WARMUP_CANDLES } from '../indicators/compute-indicators';
import { createBinanceMarket } from '../market/binance';
import { fetchHistory } from './history';
import { parseKlineCsv, parseOpenTime } from './kline-csv';
import { renderReportHtml } from './report-html';
import type { ReliabilityRow } from './metrics';
import { runBacktest, summarize, type BacktestReport } from './run-backtest';
import { decideSeries } from './signal-series';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const USAGE = `usage: npm run backtest -- (--csv PATH | --source binance [--candles N] [--base-url URL]) --symbol BTC/USDT --timeframe 1h
       [--from DATE] [--to DATE] [--fee 0.1] [--horizon 24] [--draws 500] [--seed N] [--json] [--html report.html]`;

const OPTIONS = {
  csv: { type: 'string' },
  source: { type: 'string' },
  symbol: { type: 'string' },
  timeframe: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  fee: { type: 'string' },
  horizon: { type: 'string' },
  draws: { type: 'string' },
  seed: { type: 'string' },
  candles: { type: 'string' },
  'base-url': { type: 'string' },
  json: { type: 'boolean' },
  html: { type: 'string' },
  help: { type: 'boolean' },
} as const;

class UsageError extends Error {}

function numberOf(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a non-negative number, got ${text}`);
  return n;
}

function timeOf(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = parseOpenTime(text);
  if (!Number.isFinite(t)) throw new UsageError(`--${name} must be a date (2024-03-01) or epoch ms, got ${text}`);
  return t;
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let args;
  try {
    args = parseArgs({ args: [...argv], options: OPTIONS, strict: true }).values;
  } catch (err) {
    io.err(`${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  try {
    const symbol = symbolSchema.safeParse(args.symbol ?? '');
    const timeframe = timeframeSchema.safeParse(args.timeframe ?? '');
    if (!symbol.success) throw new UsageError('--symbol must look like BTC/USDT');
    if (!timeframe.success) throw new UsageError(`--timeframe must be one of ${timeframeSchema.options.join(', ')}`);
    if (Boolean(args.csv) === (args.source === 'binance')) throw new UsageError('give exactly one of --csv PATH or --source binance');
    if (args.source !== undefined && args.source !== 'binance') throw new UsageError(`--source: only binance is supported, got ${args.source}`);
    const from = timeOf('from', args.from);
    const to = timeOf('to', args.to);

    let candles: Candle[];
    if (args.csv) candles = parseKlineCsv(readFileSync(args.csv, 'utf8'));
    else {
      const wanted = numberOf('candles', args.candles, 2000);
      // Enough before --from to warm the indicators up, and the whole window after it.
      const span = from !== undefined && to !== undefined ? Math.ceil((to - from) / TIMEFRAME_MS[timeframe.data]) + 1 : 0;
      const market = createBinanceMarket({ baseUrl: args['base-url'] });
      candles = await fetchHistory(market, { symbol: symbol.data, timeframe: timeframe.data, candles: Math.max(wanted, span + INDICATOR_WARMUP_CANDLES), endTime: to });
    }
    if (to !== undefined) candles = candles.filter((c) => c.openTime <= to);
    const start = from === undefined ? 0 : candles.findIndex((c) => c.openTime >= from);
    if (start < 0) throw new Error(`no candle at or after --from ${args.from}`);

    const report = backtest(candles, timeframe.data, {
      start,
      feePct: numberOf('fee', args.fee, 0.1),
      horizonCandles: numberOf('horizon', args.horizon, 24),
      draws: Math.max(200, numberOf('draws', args.draws, 500)),
      seed: args.seed === undefined ? undefined : numberOf('seed', args.seed, 0),
    });
    const meta = { symbol: symbol.data, timeframe: timeframe.data, source: args.csv ?? 'binance' };
    if (args.html) writeFileSync(args.html, renderReportHtml(report, meta));
    io.out(args.json ? `${JSON.stringify(summarize(report))}\n` : formatSummary(report, meta));
    return 0;
  } catch (err) {
    io.err(`backtest: ${err instanceof Error ? err.message : String(err)}\n${err instanceof UsageError ? `${USAGE}\n` : ''}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

function backtest(candles: Candle[], timeframe: Timeframe, o: { start: number; feePct: number; horizonCandles: number; draws: number; seed: number | undefined }): BacktestReport {
  if (candles.length <= INDICATOR_WARMUP_CANDLES) {
    throw new Error(`${candles.length} candles: the indicators need ${INDICATOR_WARMUP_CANDLES} to warm up before the first signal`);
  }
  const decisions = decideSeries(candles, { timeframe });
  return runBacktest(candles, decisions, { ...o, from: Math.max(o.start, INDICATOR_WARMUP_CANDLES - 1) });
}

export function formatSummary(report: BacktestReport, meta: { symbol: string; timeframe: string }): string {
  const s = summarize(report);
  const p = (x: number | null, d = 2) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(d)} %`);
  const f = (x: number | null, d = 1) => (x === null ? '—' : x.toFixed(d));
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
  const rows: Array<[string, string]> = [
    ['window', `${day(report.from)} → ${day(report.to)} UTC`],
    ['independent trades', `${s.trades} (${report.stats.longs} long, ${report.stats.shorts} short)`],
    ['win rate', s.winRate === null ? '—' : `${f(s.winRate)} % [${f(s.winRateLow)}, ${f(s.winRateHigh)}] 95 % Wilson`],
    ['expectancy / trade', `${p(s.expectancyPct, 3)} after ${report.feePct} % fee a side`],
    ['profit factor', f(s.profitFactor, 2)],
    ['total return', p(s.totalReturnPct)],
    ['max drawdown', `${f(s.maxDrawdownPct)} %`],
    ['buy-and-hold', `${p(s.buyHoldReturnPct)} (max drawdown ${f(report.buyHold.maxDrawdownPct)} %)`],
    ['coin flip / trade', `median ${p(s.coinFlip.medianExpectancyPct, 3)}, p5 ${p(s.coinFlip.p5, 3)}, p95 ${p(s.coinFlip.p95, 3)}`],
    ['percentile vs coin', f(s.coinFlip.percentile)],
    ['edge', s.edge],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  const band = (r: ReliabilityRow) =>
    `  score ${String(r.score).padStart(3)}: ${String(r.trades).padStart(4)} trades, win ${f(r.winRate)} % [${f(r.winRateLow)}, ${f(r.winRateHigh)}], ${p(r.expectancyPct, 3)} a trade`;
  const oos = report.reliabilityOutOfSample;
  const reliability = report.reliability.length
    ? `score reliability (score = % of past calls like it that won; trades, win rate [95 % Wilson], expectancy)\n${report.reliability.map(band).join('\n')}\n` +
      `  out of sample: fitted on the first half (${oos.fit.map((s) => `vote ≥ ${s.vote} → ${f(s.winPct)} %`).join(', ') || 'no trades'}), read on the second half\n${oos.rows.map(band).join('\n')}\n`
    : '';
  return `${meta.symbol} ${meta.timeframe} walk-forward backtest\n${lines.join('\n')}\n${reliability}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2), { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }).then((code) => {
    process.exitCode = code;
  });
}
