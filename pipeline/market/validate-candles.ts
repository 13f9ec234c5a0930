/**
 * The boundary every market source passes its candles through: whatever a
 * provider sent, what leaves here is closed, well-formed, aligned, ascending
 * and unique by openTime. A bad row is logged and skipped, never returned, so
 * one corrupt candle cannot poison the indicators of a whole series (and the
 * SQL checks on `candles` never see it).
 */
import { z } from 'zod';
import { TIMEFRAME_MS, type Timeframe } from '../../common/symbols';
import type { Candle } from '../domain';

/** The pino-like subset the market layer logs through. */
export interface MarketLog {
  warn(obj: object, msg: string): void;
}

const price = z.number().positive();
/** Mirrors the `candles` table checks (prices > 0, volume >= 0, high/low bound open/close). */
export const candleSchema = z
  .object({
    openTime: z.number().int().nonnegative(),
    open: price,
    high: price,
    low: price,
    close: price,
    volume: z.number().nonnegative(),
  })
  .refine((c) => c.high >= Math.max(c.open, c.close, c.low) && c.low <= Math.min(c.open, c.close), {
    message: 'high/low do not bound open and close',
  });

/**
 * The schema's checks as plain comparisons, for the common case of a good
 * row: the candle the schema would return (the six fields, nothing else), or
 * null to let the schema judge (and word the problem). Never more lenient than
 * the schema, so the output is the schema's either way
 * (validate-candles.test.ts compares them); it spares a new watcher's 1,000
 * candles a zod parse each.
 */
function plainCandle(row: unknown): Candle | null {
  if (typeof row !== 'object' || row === null) return null;
  const { openTime, open, high, low, close, volume } = row as Record<string, unknown>;
  if (typeof openTime !== 'number' || !Number.isSafeInteger(openTime) || openTime < 0) return null;
  if (typeof open !== 'number' || typeof high !== 'number' || typeof low !== 'number' || typeof close !== 'number' || typeof volume !== 'number') return null;
  if (!(Number.isFinite(open) && open > 0 && Number.isFinite(high) && high > 0 && Number.isFinite(low) && low > 0 && Number.isFinite(close) && close > 0)) return null;
  if (!(Number.isFinite(volume) && volume >= 0)) return null;
  if (!(high >= Math.max(open, close, low) && low <= Math.min(open, close))) return null;
  return { openTime, open, high, low, close, volume };
}

export interface SanitizeContext {
  source: string;
  symbol: string;
  timeframe: Timeframe;
  /** Epoch ms; candles that have not closed by then are dropped (not an error). */
  now: number;
  log?: MarketLog;
}

/** True once the whole candle lies in the past: [openTime, openTime + tf) ended at or before `now`. */
export function isClosed(openTime: number, timeframe: Timeframe, now: number): boolean {
  return openTime + TIMEFRAME_MS[timeframe] <= now;
}

/**
 * Validates raw candle-shaped values and returns the good ones, closed only,
 * ascending by openTime, de-duplicated (the later duplicate wins, as a
 * provider's correction would).
 */
export function sanitizeCandles(raw: readonly unknown[], ctx: SanitizeContext): Candle[] {
  const tf = TIMEFRAME_MS[ctx.timeframe];
  const byTime = new Map<number, Candle>();
  let skipped = 0;
  for (let i = 0; i < raw.length; i++) {
    const plain = plainCandle(raw[i]);
    const parsed = plain ? ({ success: true, data: plain } as const) : candleSchema.safeParse(raw[i]);
    let problem: string | null = null;
    if (!parsed.success) problem = parsed.error.issues.map((x) => `${x.path.join('.') || 'candle'}: ${x.message}`).join('; ');
    else if (parsed.data.openTime % tf !== 0) problem = `openTime ${parsed.data.openTime} not aligned to ${ctx.timeframe}`;
    if (problem !== null || !parsed.success) {
      skipped++;
      // Only the first few rows are logged in detail so a broken feed cannot flood the log.
      if (skipped <= 3) {
        ctx.log?.warn({ source: ctx.source, symbol: ctx.symbol, timeframe: ctx.timeframe, index: i, problem }, 'malformed candle skipped');
      }
      continue;
    }
    if (!isClosed(parsed.data.openTime, ctx.timeframe, ctx.now)) continue;
    byTime.set(parsed.data.openTime, parsed.data);
  }
  if (skipped > 3) {
    ctx.log?.warn({ source: ctx.source, symbol: ctx.symbol, timeframe: ctx.timeframe, skipped }, 'malformed candles skipped');
  }
  return [...byTime.values()].sort((a, b) => a.openTime - b.openTime);
}

/** The `limit` most recent candles with openTime <= endTime (Binance's klines semantics). */
export function selectWindow(candles: readonly Candle[], options: { limit: number; endTime?: number }): Candle[] {
  const end = options.endTime;
  const eligible = end === undefined ? candles : candles.filter((c) => c.openTime <= end);
  return eligible.slice(Math.max(0, eligible.length - Math.max(0, Math.floor(options.limit))));
}

/** `BTC/USDT` → base and quote. The symbol has already passed SYMBOL_PATTERN upstream. */
export function splitSymbol(symbol: string): { base: string; quote: string } {
  const [base = symbol, quote = ''] = symbol.toUpperCase().split('/');
  return { base, quote };
}
