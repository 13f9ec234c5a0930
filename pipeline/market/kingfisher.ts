/**
 * KingFisher liquidation maps (access by application).
 *   POST {baseUrl}/api/auth/login {login, password}       → { token }
 *   POST {baseUrl}/api/private/map/latest {exchange, pair, type}, Bearer token
 *        → liquidation clusters: price arrays with relative strengths, plus
 *          cumulated long/short liquidations.
 * The token is cached; a 401 triggers exactly one re-login and retry.
 *
 * The map's exact JSON could not be verified without an account, so parsing
 * lives in `parseKingfisherMap` alone and accepts the plausible layouts: the
 * payload (bare or under `result`/`data`) has per-side `long`/`short` (or
 * `longs`/`shorts`) objects with `prices` (numbers or [low, high] pairs) and
 * parallel `strengths`; or a side-less `prices`/`strengths` pair whose side
 * is inferred from the last price (levels above are shorts' liquidations).
 */
import { z } from 'zod';
import { AppError } from '../../common/errors';
import type { LiqCluster } from '../domain';
import { excerpt, parseRetryAfter, requestJson, throttledError, type FetchLike } from './http';

export const KINGFISHER_DEFAULT_BASE_URL = 'https://thekingfisher.io';

export interface KingfisherOptions {
  login: string;
  password: string;
  baseUrl?: string;
  exchange?: string;
  /** Map type, e.g. 'all_leverage' or 'high_leverage'. */
  type?: string;
  fetch?: FetchLike;
  timeoutMs?: number;
}

export interface KingfisherMap {
  clusters: LiqCluster[];
  cumulated: { long: number; short: number } | null;
}

export interface KingfisherClient {
  fetchLatestMap(symbol: string, lastPrice: number): Promise<KingfisherMap>;
  fetchLiquidationClusters(symbol: string, lastPrice: number): Promise<LiqCluster[]>;
}

export function createKingfisherClient(options: KingfisherOptions): KingfisherClient {
  const baseUrl = (options.baseUrl ?? KINGFISHER_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 15_000;
  let token: string | null = null;
  // Concurrent callers share one login instead of stampeding the auth endpoint.
  let loggingIn: Promise<string> | null = null;

  async function login(): Promise<string> {
    const res = await requestJson('kingfisher', `${baseUrl}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login: options.login, password: options.password }),
      fetch: options.fetch,
      timeoutMs,
      describe: 'login',
    });
    if (res.status < 200 || res.status >= 300) {
      throw new AppError('provider_unavailable', `kingfisher: login failed with HTTP ${res.status}: ${messageOf(res.json) ?? excerpt(res.text)}`);
    }
    const body = res.json as { token?: unknown; access_token?: unknown } | undefined;
    const value = body?.token ?? body?.access_token;
    if (typeof value !== 'string' || value.length === 0) throw new AppError('provider_unavailable', 'kingfisher: login response carried no token');
    return value;
  }

  async function currentToken(): Promise<string> {
    if (token) return token;
    loggingIn ??= login().finally(() => {
      loggingIn = null;
    });
    token = await loggingIn;
    return token;
  }

  async function postMap(symbol: string, bearer: string) {
    return requestJson('kingfisher', `${baseUrl}/api/private/map/latest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ exchange: options.exchange ?? 'binance', pair: symbol.toUpperCase(), type: options.type ?? 'all_leverage' }),
      fetch: options.fetch,
      timeoutMs,
      describe: `map ${symbol}`,
    });
  }

  async function fetchLatestMap(symbol: string, lastPrice: number): Promise<KingfisherMap> {
    let res = await postMap(symbol, await currentToken());
    if (res.status === 401) {
      // Expired token: log in again, once. A second 401 is a real credentials problem.
      token = null;
      res = await postMap(symbol, await currentToken());
      if (res.status === 401) throw new AppError('provider_unavailable', 'kingfisher: unauthorized even after re-login');
    }
    if (res.status === 429) throw throttledError('kingfisher', 429, parseRetryAfter(res.headers.get('retry-after')), messageOf(res.json) ?? '');
    if (res.status < 200 || res.status >= 300) {
      throw new AppError('provider_unavailable', `kingfisher: map ${symbol} failed with HTTP ${res.status}: ${messageOf(res.json) ?? excerpt(res.text)}`);
    }
    return parseKingfisherMap(res.json, lastPrice);
  }

  return {
    fetchLatestMap,
    fetchLiquidationClusters: async (symbol, lastPrice) => (await fetchLatestMap(symbol, lastPrice)).clusters,
  };
}

const level = z.union([z.number().positive(), z.tuple([z.number().positive(), z.number().positive()])]);
const sideSchema = z.object({ prices: z.array(level), strengths: z.array(z.number().nonnegative()) });
const mapSchema = z.object({
  long: sideSchema.optional(),
  longs: sideSchema.optional(),
  short: sideSchema.optional(),
  shorts: sideSchema.optional(),
  prices: z.array(level).optional(),
  strengths: z.array(z.number().nonnegative()).optional(),
  cumulated: z.object({ long: z.number(), short: z.number() }).optional(),
});

/** Map payload → clusters with strengths normalised to 0..1 by the strongest band. */
export function parseKingfisherMap(json: unknown, lastPrice: number): KingfisherMap {
  const root = json && typeof json === 'object' ? ((json as { result?: unknown; data?: unknown }).result ?? (json as { data?: unknown }).data ?? json) : json;
  const parsed = mapSchema.safeParse(root);
  if (!parsed.success) {
    throw new AppError('provider_unavailable', `kingfisher: unexpected map shape: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim());
  }
  const m = parsed.data;
  const raw: Array<{ side: 'long' | 'short' | null; low: number; high: number; strength: number }> = [];
  const collect = (side: 'long' | 'short' | null, s: { prices: Array<z.infer<typeof level>>; strengths: number[] } | undefined) => {
    if (!s) return;
    if (s.prices.length !== s.strengths.length) {
      throw new AppError('provider_unavailable', `kingfisher: ${side ?? 'map'} has ${s.prices.length} prices but ${s.strengths.length} strengths`);
    }
    s.prices.forEach((p, i) => {
      const [a, b] = typeof p === 'number' ? [p, p] : p;
      raw.push({ side, low: Math.min(a, b), high: Math.max(a, b), strength: s.strengths[i] ?? 0 });
    });
  };
  collect('long', m.long ?? m.longs);
  collect('short', m.short ?? m.shorts);
  if (m.prices && m.strengths) collect(null, { prices: m.prices, strengths: m.strengths });

  const max = Math.max(0, ...raw.map((r) => r.strength));
  const clusters: LiqCluster[] = raw
    .filter((r) => r.strength > 0)
    .map((r) => ({
      // Levels above the price liquidate shorts; below, longs.
      side: r.side ?? ((r.low + r.high) / 2 >= lastPrice ? 'short' : 'long'),
      priceLow: r.low,
      priceHigh: r.high,
      strength: max > 0 ? r.strength / max : 0,
      source: 'kingfisher' as const,
    }))
    .sort((a, b) => a.priceLow - b.priceLow);
  return { clusters, cumulated: m.cumulated ?? null };
}

function messageOf(json: unknown): string | null {
  if (!json || typeof json !== 'object') return null;
  const o = json as { message?: unknown; error?: unknown };
  if (typeof o.message === 'string') return o.message;
  if (typeof o.error === 'string') return o.error;
  return null;
}
