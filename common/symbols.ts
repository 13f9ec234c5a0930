import { z } from 'zod';

/** `BASE/QUOTE`, upper-case letters and digits, as exchanges list them (BTC/USDT, 1000PEPE/USDT). Mirrors the SQL check. */
export const SYMBOL_PATTERN = /^[A-Z0-9]{2,15}\/[A-Z0-9]{2,10}$/;
export const TIMEFRAMES = ['1m', '5m', '15m', '1h', '4h', '1d'] as const;
export type Timeframe = (typeof TIMEFRAMES)[number];

export const symbolSchema = z
  .string()
  .trim()
  .transform((s) => s.toUpperCase())
  .pipe(z.string().regex(SYMBOL_PATTERN, 'symbol must look like BTC/USDT'));

export const timeframeSchema = z.enum(TIMEFRAMES);

export const TIMEFRAME_MS: Record<Timeframe, number> = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '4h': 14_400_000,
  '1d': 86_400_000,
};
