import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { sendJson, startLoopback, type Loopback } from '../market/fixtures/loopback-server';
import { main } from './cli';
import { REAL_CSV_PATH, realCandles } from './fixtures/real-candles';

const CLI = new URL('./cli.ts', import.meta.url).pathname;
const run = promisify(execFile);
const H = 3_600_000;

/** Captures what the CLI writes. */
function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

const SUMMARY_KEYS = ['trades', 'winRate', 'winRateLow', 'winRateHigh', 'profitFactor', 'expectancyPct', 'maxDrawdownPct', 'totalReturnPct', 'buyHoldReturnPct', 'coinFlip', 'edge', 'reliability'];

let server: Loopback | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('npm run backtest', () => {
  it('--json prints exactly one JSON object with the documented fields (run as a child process)', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, '--csv', REAL_CSV_PATH, '--symbol', 'BTC/USDT', '--timeframe', '1h', '--json'], { cwd: process.cwd() });
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(summary)).toEqual(SUMMARY_KEYS);
    expect(Object.keys(summary.coinFlip as object)).toEqual(['medianExpectancyPct', 'p5', 'p95', 'percentile']);
    expect(summary.trades).toBeGreaterThan(0);
    expect(['positive', 'none', 'negative']).toContain(summary.edge);
    for (const key of SUMMARY_KEYS.filter((k) => !['edge', 'coinFlip', 'reliability'].includes(k))) expect(typeof summary[key], key).toBe('number');
    // The score reliability table: one row per score shown, its trades adding up to all of them.
    const reliability = summary.reliability as Array<Record<string, number>>;
    expect(reliability.length).toBeGreaterThan(0);
    for (const row of reliability) expect(Object.keys(row)).toEqual(['score', 'trades', 'winRate', 'winRateLow', 'winRateHigh', 'expectancyPct']);
    expect(reliability.reduce((a, r) => a + r.trades!, 0)).toBe(summary.trades);
  });

  it('reads a header-less data.binance.vision CSV (epoch ms) to the same result, and honours --from / --to', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backtest-'));
    const csv = join(dir, 'BTCUSDT-1h.csv');
    writeFileSync(csv, realCandles().map((c) => [c.openTime, c.open, c.high, c.low, c.close, c.volume, c.openTime + H - 1, 0, 0, 0, 0, 0].join(',')).join('\n'));
    const a = io();
    const b = io();
    expect(await main(['--csv', csv, '--symbol', 'BTC/USDT', '--timeframe', '1h', '--json'], a.io)).toBe(0);
    expect(await main(['--csv', REAL_CSV_PATH, '--symbol', 'BTC/USDT', '--timeframe', '1h', '--json'], b.io)).toBe(0);
    expect(a.out).toEqual(b.out);

    const c = io();
    expect(await main(['--csv', csv, '--symbol', 'BTC/USDT', '--timeframe', '1h', '--from', '2024-02-05', '--to', '2024-02-15', '--json'], c.io)).toBe(0);
    const narrow = JSON.parse(c.out.join('')) as { trades: number };
    expect(narrow.trades).toBeLessThan((JSON.parse(b.out.join('')) as { trades: number }).trades);
  });

  it('--html writes a self-contained report: equity against buy-and-hold, drawdown, trades, score reliability', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'backtest-')), 'report.html');
    const r = io();
    expect(await main(['--csv', REAL_CSV_PATH, '--symbol', 'BTC/USDT', '--timeframe', '1h', '--html', file], r.io)).toBe(0);
    expect(r.out.join('')).toMatch(/independent trades/);
    expect(r.out.join('')).toMatch(/score reliability[^\n]*\n  score  45: +\d+ trades, win [\d.]+ % \[[\d.]+, [\d.]+\]/);
    expect(r.out.join('')).toMatch(/out of sample: fitted on the first half/);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/<svg[^>]*aria-label="equity curve against buy-and-hold"/);
    expect(html).toMatch(/aria-label="drawdown"/);
    expect(html).toMatch(/Score reliability/);
    expect(html).toMatch(/<td>45<\/td><td>\d+<\/td><td>[\d.]+ % \([\d.]+–[\d.]+ %\)<\/td>/);
    expect(html).toMatch(/Out of sample on this run/);
    expect(html).toMatch(/take_profit|stop|horizon|signal/);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
  });

  it('--source binance pages back through the klines endpoint (loopback server, documented kline rows)', async () => {
    const candles = realCandles();
    server = await startLoopback((req, res) => {
      const limit = Number(req.query.get('limit'));
      const end = req.query.has('endTime') ? Number(req.query.get('endTime')) : Number.POSITIVE_INFINITY;
      const rows = candles
        .filter((c) => c.openTime <= end)
        .slice(-limit)
        .map((c) => [c.openTime, String(c.open), String(c.high), String(c.low), String(c.close), String(c.volume), c.openTime + H - 1, '0', 100, '0', '0', '0']);
      sendJson(res, 200, rows);
    });
    const live = io();
    expect(await main(['--source', 'binance', '--base-url', server.url, '--symbol', 'BTC/USDT', '--timeframe', '1h', '--candles', '1200', '--json'], live.io)).toBe(0);
    expect(server.requests.length).toBeGreaterThanOrEqual(2); // 1,000 a page at most
    expect(server.requests.every((r) => r.path === '/api/v3/klines' && r.query.get('symbol') === 'BTCUSDT' && r.query.get('interval') === '1h')).toBe(true);
    const file = io();
    await main(['--csv', REAL_CSV_PATH, '--symbol', 'BTC/USDT', '--timeframe', '1h', '--json'], file.io);
    expect(live.out).toEqual(file.out);
  });

  it.each([
    [['--symbol', 'BTC/USDT', '--timeframe', '1h'], /exactly one of --csv/],
    [['--csv', 'x.csv', '--symbol', 'BTCUSDT', '--timeframe', '1h'], /--symbol/],
    [['--csv', 'x.csv', '--symbol', 'BTC/USDT', '--timeframe', '2h'], /--timeframe/],
    [['--bogus'], /Unknown option/],
  ])('exits 2 with the usage on %j', async (argv, message) => {
    const r = io();
    expect(await main(argv, r.io)).toBe(2);
    expect(r.err.join('')).toMatch(message);
    expect(r.err.join('')).toMatch(/usage: npm run backtest/);
  });
});
