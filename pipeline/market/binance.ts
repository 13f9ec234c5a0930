/**
 * Binance public klines (no key): GET {baseUrl}/api/v3/klines. Rows are
 * `[openTime, open, high, low, close, volume, closeTime, …]` with prices as
 * strings; the last row is usually the still-open candle and is dropped.
 */
import { AppError } from '../../common/errors';
import { TIMEFRAME_MS, type Timeframe } from '../../common/symbols';
import type { Candle } from '../domain';
import { excerpt, parseRetryAfter, requestJson, throttledError, type FetchLike } from './http';
import type { MarketSource } from './market-source';
import { sanitizeCandles, selectWindow, splitSymbol, type MarketLog } from './validate-candles';

export const BINANCE_DEFAULT_BASE_URL = 'https://api.binance.com';
/** Binance's cap on `limit` for klines. */
const MAX_KLINES = 1000;

export interface BinanceMarketOptions {
  baseUrl?: string;
  fetch?: FetchLike;
  now?: () => number;
  log?: MarketLog;
  timeoutMs?: number;
}

export function createBinanceMarket(options: BinanceMarketOptions = {}): MarketSource {
  const baseUrl = (options.baseUrl ?? BINANCE_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 10_000;

  return {
    name: 'binance',
    async fetchCandles(symbol, timeframe, { limit, endTime }) {
      const { base, quote } = splitSymbol(symbol);
      const url = new URL(`${baseUrl}/api/v3/klines`);
      url.searchParams.set('symbol', `${base}${quote}`);
      url.searchParams.set('interval', timeframe);
      // One extra row because the newest one is usually still open and gets dropped.
      url.searchParams.set('limit', String(Math.min(MAX_KLINES, Math.max(1, Math.floor(limit)) + 1)));
      if (endTime !== undefined) url.searchParams.set('endTime', String(Math.floor(endTime)));

      const res = await requestJson('binance', url.toString(), { fetch: options.fetch, timeoutMs, describe: `klines ${symbol} ${timeframe}` });
      if (res.status === 429 || res.status === 418) {
        // 418 means the IP is banned for ignoring 429s; both carry Retry-After.
        throw throttledError('binance', res.status, parseRetryAfter(res.headers.get('retry-after'), now()), binanceErrorText(res.json, res.text));
      }
      if (res.status < 200 || res.status >= 300) {
        const detail = binanceErrorText(res.json, res.text);
        const code = (res.json as { code?: unknown } | undefined)?.code;
        if (res.status === 400 && code === -1121) throw new AppError('invalid_symbol', `binance: ${detail} (${symbol})`);
        throw new AppError('provider_unavailable', `binance: HTTP ${res.status}: ${detail}`);
      }
      if (!Array.isArray(res.json)) {
        throw new AppError('provider_unavailable', `binance: expected an array of klines, got ${excerpt(res.text, 80)}`);
      }
      const at = closedBy(now(), res.headers.get('date'));
      const rows = res.json.map((row) => parseKline(row, timeframe, at));
      const candles = sanitizeCandles(rows.filter((r) => r !== OPEN_CANDLE), {
        source: 'binance',
        symbol,
        timeframe,
        now: at,
        log: options.log,
      });
      return selectWindow(candles, { limit, endTime });
    },
  };
}

const OPEN_CANDLE = Symbol('open candle');

/**
 * The time a candle must have closed by to be taken as final: ours, or
 * Binance's own (the response's Date header, whole seconds, so never ahead of
 * its clock) when that is earlier. A worker whose clock runs ahead of the
 * exchange's would otherwise store the candle Binance still has open, with
 * its provisional close, at the boundary where ingests run; stored candles
 * are never rewritten.
 */
function closedBy(now: number, dateHeader: string | null): number {
  const serverNow = dateHeader ? Date.parse(dateHeader) : Number.NaN;
  return Number.isFinite(serverNow) ? Math.min(now, serverNow) : now;
}

/**
 * One kline row → candle-shaped value for validation. Non-numeric strings
 * become NaN and are rejected by the validator; a row whose closeTime is still
 * in the future is the open candle and is dropped silently.
 */
export function parseKline(row: unknown, timeframe: Timeframe, now: number): unknown {
  if (!Array.isArray(row) || row.length < 7) return row;
  const closeTime = Number(row[6]);
  if (Number.isFinite(closeTime) && closeTime > now) return OPEN_CANDLE;
  const openTime = Number(row[0]);
  // Binance's closeTime is the last millisecond of the candle; a mismatch means a wrong interval.
  if (Number.isFinite(closeTime) && closeTime !== openTime + TIMEFRAME_MS[timeframe] - 1) return { malformed: 'closeTime does not match interval', row };
  return {
    openTime,
    open: toNumber(row[1]),
    high: toNumber(row[2]),
    low: toNumber(row[3]),
    close: toNumber(row[4]),
    volume: toNumber(row[5]),
  } satisfies Record<keyof Candle, number>;
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return Number.NaN;
}

function binanceErrorText(json: unknown, text: string): string {
  if (json && typeof json === 'object' && 'msg' in json) {
    const { code, msg } = json as { code?: unknown; msg?: unknown };
    return `${String(msg)}${code === undefined ? '' : ` (code ${String(code)})`}`;
  }
  return excerpt(text) || 'empty body';
}
