/**
 * Binance kline CSVs → candles. Accepts both shapes in circulation:
 *  - research dumps: `open_time,open,high,low,close,volume` with ISO times
 *    (no zone means UTC, as Binance publishes);
 *  - data.binance.vision files: no header, 12 columns, open time in epoch
 *    milliseconds (microseconds in spot files from 2025 on).
 * Only the first six columns are read. A row that is not a valid candle is an
 * error naming its line: a backtest on silently dropped rows would lie.
 */
import type { Candle } from '../domain';

/** Epoch ms from an ISO date (UTC unless it says otherwise) or epoch ms / µs / s digits. */
export function parseOpenTime(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    // Seconds (10 digits), milliseconds (13) or microseconds (16): scale to ms.
    if (n >= 1e14) return Math.floor(n / 1000);
    if (n < 1e11) return n * 1000;
    return n;
  }
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(t) ? t : `${t.replace(' ', 'T')}Z`;
  return Date.parse(zoned);
}

export function parseKlineCsv(text: string): Candle[] {
  const candles: Candle[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const cells = line.split(',').map((s) => s.trim().replace(/^"|"$/g, ''));
    // A header is any first row whose first cell is not a time.
    if (candles.length === 0 && i === firstLine(lines) && !Number.isFinite(parseOpenTime(cells[0] ?? ''))) continue;
    const [openTime, open, high, low, close, volume] = [parseOpenTime(cells[0] ?? ''), ...cells.slice(1, 6).map(Number)];
    const candle = { openTime, open: open!, high: high!, low: low!, close: close!, volume: volume! };
    if (cells.length < 6 || !Object.values(candle).every(Number.isFinite) || !(candle.low <= Math.min(candle.open, candle.close) && candle.high >= Math.max(candle.open, candle.close)) || candle.low <= 0) {
      throw new Error(`line ${i + 1}: not a candle (open_time, open, high, low, close, volume): ${line.slice(0, 120)}`);
    }
    candles.push(candle);
  }
  candles.sort((a, b) => a.openTime - b.openTime);
  for (let i = 1; i < candles.length; i++) {
    if (candles[i]!.openTime === candles[i - 1]!.openTime) throw new Error(`two candles open at ${new Date(candles[i]!.openTime).toISOString()}`);
  }
  return candles;
}

function firstLine(lines: readonly string[]): number {
  return lines.findIndex((l) => l.trim() !== '');
}
