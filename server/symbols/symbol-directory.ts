/**
 * Which pairs the configured market source can actually trade, so that a
 * made-up pair (FOO/BAR) is refused instead of watched. Read-only, one list
 * per process, fetched lazily and cached for `ttlMs`:
 *   simulated    the fixed set of majors below (README: "Simulated market");
 *   binance      GET {BINANCE_BASE_URL}/api/v3/exchangeInfo, pairs whose status is TRADING;
 *   cryptometer  GET {CRYPTOMETER_BASE_URL}/coinlist/?api_key=…&e={exchange}, Cryptometer's envelope.
 * When a refresh fails the last good list is kept (a pair listed an hour ago
 * is still listed); with no list at all the check fails as `unavailable`.
 */
import { z } from 'zod';
import { AppError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import type { MarketKind } from '../../common/market-env';
import { suggestSymbols } from './symbol-suggestions';

const SIMULATED_BASES = ['BTC', 'ETH', 'BNB', 'SOL', 'XRP', 'DOGE', 'ADA', 'AVAX', 'LINK', 'DOT', 'LTC', 'TRX', 'TON', 'SUI', 'NEAR', 'ATOM', 'UNI', 'ARB', 'OP', 'PEPE', 'SHIB'];
/** The simulated market's pairs: 21 majors against USDT and USDC, ETH/BTC, and 1000PEPE/USDT (offered by the client's pair list). */
export const SIMULATED_SYMBOLS: readonly string[] = [...SIMULATED_BASES.flatMap((b) => [`${b}/USDT`, `${b}/USDC`]), 'ETH/BTC', '1000PEPE/USDT'];

/** Quotes tried, longest first, when a source writes a pair without a separator (BTCUSDT). */
const QUOTES = ['FDUSD', 'USDT', 'USDC', 'TUSD', 'BUSD', 'USD', 'EUR', 'TRY', 'BTC', 'ETH', 'BNB'];

export interface SymbolDirectoryOptions {
  kind: MarketKind;
  binance?: { baseUrl?: string };
  cryptometer?: { apiKey: string; baseUrl?: string; exchange?: string };
  timeoutMs?: number;
  /** How long a fetched list is trusted (default one hour). */
  ttlMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  log?: Pick<Logger, 'warn'>;
}

export type SymbolCheck = { known: true } | { known: false; suggestions: string[] };

export interface SymbolDirectory {
  readonly kind: MarketKind;
  /** Whether `symbol` (BASE/QUOTE, upper case) is tradable on the market source, with close matches when not. */
  check(symbol: string): Promise<SymbolCheck>;
}

export function createSymbolDirectory(options: SymbolDirectoryOptions): SymbolDirectory {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? 3_600_000;
  const load = listLoader(options);
  let cached: { symbols: Set<string>; at: number } | null = null;
  // One request at a time: a burst of additions shares the refresh.
  let inFlight: Promise<Set<string>> | null = null;

  async function symbols(): Promise<Set<string>> {
    if (cached && now() - cached.at < ttlMs) return cached.symbols;
    inFlight ??= load()
      .then((list) => {
        cached = { symbols: new Set(list), at: now() };
        return cached.symbols;
      })
      .catch((err: unknown) => {
        if (cached) {
          options.log?.warn({ err: (err as Error).message, market: options.kind }, 'symbols: could not refresh the tradable list; using the last one');
          return cached.symbols;
        }
        throw new AppError('unavailable', `Can't check the pair against the ${options.kind} market's list right now. Please try again shortly.`, { cause: err });
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  }

  return {
    kind: options.kind,
    async check(symbol) {
      const list = await symbols();
      return list.has(symbol) ? { known: true } : { known: false, suggestions: suggestSymbols(symbol, list) };
    },
  };
}

function listLoader(o: SymbolDirectoryOptions): () => Promise<string[]> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  switch (o.kind) {
    case 'simulated':
      return async () => [...SIMULATED_SYMBOLS];
    case 'binance': {
      const url = `${(o.binance?.baseUrl ?? 'https://api.binance.com').replace(/\/+$/, '')}/api/v3/exchangeInfo`;
      return async () => {
        const body = binanceExchangeInfoSchema.parse(await getJson('binance', url, timeoutMs, o.fetch));
        return body.symbols.filter((s) => s.status === 'TRADING').map((s) => `${s.baseAsset}/${s.quoteAsset}`);
      };
    }
    case 'cryptometer': {
      if (!o.cryptometer) throw new Error('the cryptometer market needs CRYPTOMETER_API_KEY');
      const { apiKey, baseUrl, exchange } = o.cryptometer;
      const url = new URL(`${(baseUrl ?? 'https://api.cryptometer.io').replace(/\/+$/, '')}/coinlist/`);
      url.searchParams.set('e', exchange ?? 'binance');
      url.searchParams.set('api_key', apiKey);
      return async () => {
        const body = cryptometerEnvelopeSchema.parse(await getJson('cryptometer', url.toString(), timeoutMs, o.fetch));
        return body.data.flatMap((item) => {
          const pair = coinlistPair(item);
          return pair ? [pair] : [];
        });
      };
    }
  }
}

/** The documented shape of exchangeInfo, reduced to what we read (the rest is ignored). */
const binanceExchangeInfoSchema = z.object({
  symbols: z.array(z.looseObject({ symbol: z.string(), status: z.string(), baseAsset: z.string(), quoteAsset: z.string() })),
});

/** Cryptometer's envelope; its flags are strings ("true"/"false"). */
const cryptometerEnvelopeSchema = z.object({ success: z.literal('true'), data: z.array(z.unknown()) });

/**
 * One coinlist entry as BASE/QUOTE. Entries come as a pair string
 * ("btc-usdt", "BTC/USDT", "BTCUSDT") or an object carrying one under `pair`,
 * `market_pair` or `symbol`; anything else is skipped.
 */
export function coinlistPair(item: unknown): string | null {
  const raw =
    typeof item === 'string'
      ? item
      : item && typeof item === 'object'
        ? ['pair', 'market_pair', 'symbol'].map((k) => (item as Record<string, unknown>)[k]).find((v) => typeof v === 'string')
        : undefined;
  if (typeof raw !== 'string') return null;
  const text = raw.trim().toUpperCase();
  const split = /^([A-Z0-9]{2,15})[-/_]([A-Z0-9]{2,10})$/.exec(text);
  if (split) return `${split[1]}/${split[2]}`;
  const quote = QUOTES.find((q) => text.endsWith(q) && text.length - q.length >= 2);
  return quote ? `${text.slice(0, -quote.length)}/${quote}` : null;
}

async function getJson(provider: string, url: string, timeoutMs: number, fetchImpl: typeof fetch = fetch): Promise<unknown> {
  const res = await fetchImpl(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  // The URL may carry an API key: never put it in an error.
  if (!res.ok) throw new Error(`${provider}: HTTP ${res.status} for its symbol list`);
  return res.json();
}
