/**
 * Where candles (and optionally liquidation clusters) come from. Every source
 * returns closed candles only, ascending by openTime, validated at the
 * boundary (see validate-candles.ts): a malformed row is logged and skipped.
 */
import { z } from 'zod';
import type { Timeframe } from '../../common/symbols';
import type { Candle, LiqCluster } from '../domain';
import { createBinanceMarket } from './binance';
import { createCryptometerMarket } from './cryptometer';
import type { FetchLike } from './http';
import { createKingfisherClient } from './kingfisher';
import type { MarketPauses } from './market-pauses';
import { createSimulatedMarket } from './simulated';
import type { MarketLog } from './validate-candles';

export type { MarketLog } from './validate-candles';

export interface FetchCandlesOptions {
  limit: number;
  /** Latest openTime wanted (epoch ms, inclusive), as in Binance klines. */
  endTime?: number;
}

export interface MarketSource {
  readonly name: string;
  fetchCandles(symbol: string, timeframe: Timeframe, options: FetchCandlesOptions): Promise<Candle[]>;
  fetchLiquidationClusters?(symbol: string, lastPrice: number): Promise<LiqCluster[]>;
}

const httpUrl = z.url({ protocol: /^https?$/ });

/** What the lead wires from env. Secrets stay in these objects and out of logs. */
export const marketSourceOptionsSchema = z
  .object({
    provider: z.enum(['simulated', 'binance', 'cryptometer']).default('simulated'),
    seed: z.number().int().optional(),
    timeoutMs: z.number().int().positive().optional(),
    binance: z.object({ baseUrl: httpUrl.optional() }).optional(),
    cryptometer: z
      .object({
        apiKey: z.string().min(1),
        baseUrl: httpUrl.optional(),
        exchange: z.string().min(1).optional(),
        rateLimit: z.object({ points: z.number().int().positive(), durationSeconds: z.number().positive() }).optional(),
      })
      .optional(),
    /** When set, clusters come from KingFisher (whatever the candle provider is). */
    kingfisher: z
      .object({
        login: z.string().min(1),
        password: z.string().min(1),
        baseUrl: httpUrl.optional(),
        exchange: z.string().min(1).optional(),
        type: z.string().min(1).optional(),
      })
      .optional(),
  })
  .superRefine((o, ctx) => {
    if (o.provider === 'cryptometer' && !o.cryptometer) {
      ctx.addIssue({ code: 'custom', path: ['cryptometer'], message: 'an API key is required for the cryptometer provider' });
    }
  });

export type MarketSourceOptions = z.input<typeof marketSourceOptionsSchema>;

export interface MarketSourceDeps {
  log?: MarketLog;
  now?: () => number;
  fetch?: FetchLike;
  /** Shared pauses: a provider that throttles us is left alone by every worker (market-pauses.ts). */
  pauses?: MarketPauses;
}

/**
 * Builds the configured source. `provider` (alias `name`) picks the candle
 * feed; KingFisher is composed in for clusters when configured. Dependencies
 * may be passed in the options object or as the second argument.
 */
export function createMarketSource(
  options: MarketSourceOptions & MarketSourceDeps & { name?: MarketSourceOptions['provider'] },
  moreDeps: MarketSourceDeps = {},
): MarketSource {
  const o = marketSourceOptionsSchema.parse({ ...options, provider: options.provider ?? options.name });
  const deps: MarketSourceDeps = {
    log: moreDeps.log ?? options.log,
    now: moreDeps.now ?? options.now,
    fetch: moreDeps.fetch ?? options.fetch,
    pauses: moreDeps.pauses ?? options.pauses,
  };
  const common = { log: deps.log, now: deps.now, fetch: deps.fetch, timeoutMs: o.timeoutMs };
  const around = deps.pauses ? deps.pauses.around : <T>(_provider: string, call: () => Promise<T>) => call();
  let candles: MarketSource;
  switch (o.provider) {
    case 'simulated':
      candles = createSimulatedMarket({ seed: o.seed, now: deps.now });
      break;
    case 'binance':
      candles = createBinanceMarket({ ...common, baseUrl: o.binance?.baseUrl });
      break;
    case 'cryptometer': {
      const cm = o.cryptometer;
      if (!cm) throw new Error('unreachable: validated above');
      candles = createCryptometerMarket({ ...common, apiKey: cm.apiKey, baseUrl: cm.baseUrl, exchange: cm.exchange, rateLimit: cm.rateLimit });
      break;
    }
  }
  if (o.provider !== 'simulated') candles = pausable(candles, around);
  if (!o.kingfisher) return candles;
  const kf = createKingfisherClient({ ...o.kingfisher, fetch: deps.fetch, timeoutMs: o.timeoutMs });
  const fromCandles = candles;
  return {
    name: `${fromCandles.name}+kingfisher`,
    fetchCandles: (symbol, timeframe, opts) => fromCandles.fetchCandles(symbol, timeframe, opts),
    fetchLiquidationClusters: (symbol, lastPrice) => around('kingfisher', () => kf.fetchLiquidationClusters(symbol, lastPrice)),
  };
}

/** Each call of a live provider goes through its shared pause, under the provider's own name. */
function pausable(source: MarketSource, around: MarketPauses['around']): MarketSource {
  const clusters = source.fetchLiquidationClusters?.bind(source);
  return {
    name: source.name,
    fetchCandles: (symbol, timeframe, opts) => around(source.name, () => source.fetchCandles(symbol, timeframe, opts)),
    ...(clusters && { fetchLiquidationClusters: (symbol: string, lastPrice: number) => around(source.name, () => clusters(symbol, lastPrice)) }),
  };
}
