/**
 * Cryptometer client: `{baseUrl}/<endpoint>/?api_key=KEY&…` (the trailing
 * slash is required; without it the API answers 403 like an unknown path).
 *
 * Envelope: `{"success":"true","error":"false","data":[…]}` — the flags are
 * STRINGS, so `"false"` is truthy and must be compared as text. Failures come
 * as `{"success":"false", "message": "…"}`, usually with HTTP 403, for a wrong
 * path, a wrong parameter name, or a paid endpoint on a free key alike.
 * Anything that does not match the envelope is an error and never reaches
 * storage.
 *
 * The documented budget is ~20 requests per 5 s; a client-side FIFO queue
 * (rate-limiter-flexible) keeps us under it instead of discovering the limit.
 */
import { RateLimiterMemory, RateLimiterQueue } from 'rate-limiter-flexible';
import { z } from 'zod';
import { AppError } from '../../common/errors';
import type { Timeframe } from '../../common/symbols';
import { excerpt, parseRetryAfter, requestJson, throttledError, type FetchLike } from './http';
import type { MarketSource } from './market-source';
import { sanitizeCandles, selectWindow, splitSymbol, type MarketLog } from './validate-candles';

export const CRYPTOMETER_DEFAULT_BASE_URL = 'https://api.cryptometer.io';

export interface CryptometerOptions {
  apiKey: string;
  baseUrl?: string;
  fetch?: FetchLike;
  timeoutMs?: number;
  /** Client-side budget; defaults to the documented 20 requests per 5 s. */
  rateLimit?: { points: number; durationSeconds: number };
  log?: MarketLog;
}

type Params = Record<string, string | number | undefined>;

// Numbers arrive as numbers or numeric strings depending on the endpoint.
const num = z.union([z.number(), z.string().trim().min(1)]).pipe(z.coerce.number()).pipe(z.number());
const row = z.record(z.string(), z.unknown());

const envelopeSchema = z.object({
  success: z.literal('true'),
  error: z.literal('false'),
  data: z.array(z.unknown()),
});

export const trendIndicatorSchema = z.looseObject({ trend_score: num, buy_pressure: num, sell_pressure: num, timestamp: z.unknown().optional() });
export const longShortsSchema = z.looseObject({ longs: num, shorts: num });
/** liquidation-data-v2: data[0] maps exchange name → { longs, shorts }. */
export const liquidationDataSchema = z.record(z.string(), z.looseObject({ longs: num, shorts: num }));
export const rapidMovementSchema = z.looseObject({ pair: z.string(), exchange: z.string(), change_detected: num, side: z.string(), timestamp: z.unknown() });
export const ohlcvRowSchema = z.looseObject({
  timestamp: z.union([z.number(), z.string()]),
  open: num,
  high: num,
  low: num,
  close: num,
  volume: num,
});

export type TrendIndicator = z.infer<typeof trendIndicatorSchema>;
export type LongShorts = z.infer<typeof longShortsSchema>;
export type LiquidationData = z.infer<typeof liquidationDataSchema>;
export type RapidMovement = z.infer<typeof rapidMovementSchema>;
export type OhlcvRow = z.infer<typeof ohlcvRowSchema>;
export type LooseRow = z.infer<typeof row>;

export interface CryptometerClient {
  /** One call; returns the envelope's `data` array or throws a clear AppError. */
  request(endpoint: string, params?: Params): Promise<unknown[]>;
  trendIndicatorV3(): Promise<TrendIndicator[]>;
  longShortsData(p: { exchange: string; symbol: string; timeframe: string }): Promise<LongShorts[]>;
  openInterest(p: { exchange: string; marketPair: string }): Promise<LooseRow[]>;
  liquidationDataV2(p: { symbol: string }): Promise<LiquidationData[]>;
  volumeFlow(p: { timeframe: string }): Promise<LooseRow[]>;
  rapidMovements(): Promise<RapidMovement[]>;
  xtrades(p: { exchange: string; symbol: string }): Promise<LooseRow[]>;
  /** Raw OHLCV rows; malformed rows are returned as-is for the candle validator to log and skip. */
  ohlcv(p: { exchange: string; pair: string; timeframe: string }): Promise<unknown[]>;
}

export function createCryptometerClient(options: CryptometerOptions): CryptometerClient {
  if (!options.apiKey) throw new AppError('bad_request', 'cryptometer: an API key is required');
  const baseUrl = (options.baseUrl ?? CRYPTOMETER_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 15_000;
  const budget = options.rateLimit ?? { points: 20, durationSeconds: 5 };
  const queue = new RateLimiterQueue(new RateLimiterMemory({ points: budget.points, duration: budget.durationSeconds }), { maxQueueSize: 500 });

  async function request(endpoint: string, params: Params = {}): Promise<unknown[]> {
    const path = endpoint.replace(/^\/+|\/+$/g, '');
    const url = new URL(`${baseUrl}/${path}/`);
    url.searchParams.set('api_key', options.apiKey);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
    // The key is in the query string: never let the URL reach a log or an error message.
    const shown = `${path}/?${[...url.searchParams.keys()].filter((k) => k !== 'api_key').map((k) => `${k}=${url.searchParams.get(k)}`).join('&')}`;

    await queue.removeTokens(1).catch((err: unknown) => {
      throw new AppError('provider_unavailable', `cryptometer: local request queue is full (${String(err)})`);
    });
    const res = await requestJson('cryptometer', url.toString(), { fetch: options.fetch, timeoutMs, describe: shown });
    const message = messageOf(res.json) ?? excerpt(res.text);
    if (res.status === 429) throw throttledError('cryptometer', 429, parseRetryAfter(res.headers.get('retry-after')), message);
    if (res.status < 200 || res.status >= 300) {
      // 403 is Cryptometer's catch-all: unknown path, misnamed parameter, or a paid endpoint.
      const hint = res.status === 403 ? ' (wrong path or parameter name, or a paid endpoint on this key)' : '';
      throw new AppError('provider_unavailable', `cryptometer ${shown}: HTTP ${res.status}: ${message || 'no message'}${hint}`);
    }
    const env = envelopeSchema.safeParse(res.json);
    if (!env.success) {
      const failed = res.json && typeof res.json === 'object' && (res.json as { success?: unknown }).success !== undefined && String((res.json as { success?: unknown }).success) !== 'true';
      throw new AppError(
        'provider_unavailable',
        failed ? `cryptometer ${shown}: request rejected: ${message || 'no message'}` : `cryptometer ${shown}: invalid envelope: ${excerpt(res.text, 120)}`,
      );
    }
    return env.data.data;
  }

  async function typed<T>(schema: z.ZodType<T>, endpoint: string, params?: Params): Promise<T[]> {
    const data = await request(endpoint, params);
    return data.map((item, i) => {
      const parsed = schema.safeParse(item);
      if (!parsed.success) throw new AppError('provider_unavailable', `cryptometer ${endpoint}: unexpected data[${i}]: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      return parsed.data;
    });
  }

  return {
    request,
    trendIndicatorV3: () => typed(trendIndicatorSchema, 'trend-indicator-v3'),
    longShortsData: (p) => typed(longShortsSchema, 'long-shorts-data', { e: p.exchange, symbol: p.symbol.toLowerCase(), timeframe: p.timeframe }),
    openInterest: (p) => typed(row, 'open-interest', { e: p.exchange, market_pair: p.marketPair }),
    liquidationDataV2: (p) => typed(liquidationDataSchema, 'liquidation-data-v2', { symbol: p.symbol.toLowerCase() }),
    volumeFlow: (p) => typed(row, 'volume-flow', { timeframe: p.timeframe }),
    rapidMovements: () => typed(rapidMovementSchema, 'rapid-movements'),
    xtrades: (p) => typed(row, 'xtrades', { e: p.exchange, symbol: p.symbol.toLowerCase() }),
    ohlcv: (p) => request('ohlcv', { e: p.exchange, pair: p.pair, timeframe: p.timeframe }),
  };
}

function messageOf(json: unknown): string | null {
  if (!json || typeof json !== 'object') return null;
  const { message, error } = json as { message?: unknown; error?: unknown };
  if (typeof message === 'string' && message) return message;
  if (typeof error === 'string' && error && error !== 'false') return error;
  return null;
}

/**
 * Cryptometer timestamps come as epoch seconds, epoch milliseconds or a date
 * string; values below 1e11 are taken as seconds.
 */
export function cryptometerTime(value: unknown): number {
  if (typeof value === 'number') return value < 1e11 ? value * 1000 : value;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    if (Number.isFinite(n)) return n < 1e11 ? n * 1000 : n;
    const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value.replace(' ', 'T')}Z`;
    return Date.parse(iso);
  }
  return Number.NaN;
}

/** A MarketSource on the `ohlcv` endpoint (no limit/endTime there: the window is cut client-side). */
export function createCryptometerMarket(options: CryptometerOptions & { exchange?: string; now?: () => number; client?: CryptometerClient }): MarketSource {
  const client = options.client ?? createCryptometerClient(options);
  const exchange = options.exchange ?? 'binance';
  const now = options.now ?? Date.now;
  return {
    name: 'cryptometer',
    async fetchCandles(symbol: string, timeframe: Timeframe, { limit, endTime }) {
      const { base, quote } = splitSymbol(symbol);
      const rows = await client.ohlcv({ exchange, pair: `${base}-${quote}`.toLowerCase(), timeframe });
      const shaped = rows.map((r) => {
        const parsed = ohlcvRowSchema.safeParse(r);
        if (!parsed.success) return r;
        const { timestamp, open, high, low, close, volume } = parsed.data;
        return { openTime: cryptometerTime(timestamp), open, high, low, close, volume };
      });
      const candles = sanitizeCandles(shaped, { source: 'cryptometer', symbol, timeframe, now: now(), log: options.log });
      return selectWindow(candles, { limit, endTime });
    },
  };
}
