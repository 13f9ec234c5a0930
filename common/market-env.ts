import { z } from 'zod';

/**
 * Where market data comes from: read by the worker (candles) and by the web
 * process (the list of tradable pairs a new watch is checked against), so
 * both always talk about the same market. Documented in README (Pipeline).
 */
export const MARKET_KINDS = ['simulated', 'binance', 'cryptometer'] as const;
export type MarketKind = (typeof MARKET_KINDS)[number];

const httpUrl = z.url({ protocol: /^https?$/ });

export const marketEnvSchema = z.object({
  MARKET_DATA: z.enum(MARKET_KINDS).default('simulated'),
  BINANCE_BASE_URL: httpUrl.optional(),
  CRYPTOMETER_BASE_URL: httpUrl.optional(),
  CRYPTOMETER_API_KEY: z.string().min(1).optional(),
  CRYPTOMETER_EXCHANGE: z.string().min(1).optional(),
  MARKET_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
});
