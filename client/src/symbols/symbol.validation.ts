import { SYMBOL_PATTERN, TIMEFRAMES, type Timeframe } from '../../../common/symbols';

/** Pairs offered as suggestions in the add box (a datalist: the user may type any valid pair). */
export const COMMON_PAIRS = [
  'BTC/USDT',
  'ETH/USDT',
  'SOL/USDT',
  'BNB/USDT',
  'XRP/USDT',
  'DOGE/USDT',
  'ADA/USDT',
  'AVAX/USDT',
  'LINK/USDT',
  'TON/USDT',
  'DOT/USDT',
  'LTC/USDT',
  'ARB/USDT',
  'OP/USDT',
  'SUI/USDT',
  '1000PEPE/USDT',
] as const;

export { TIMEFRAMES, type Timeframe };

export type SymbolCheck = { ok: true; symbol: string } | { ok: false; message: string };

const KNOWN_QUOTES = ['USDT', 'USDC', 'FDUSD', 'BUSD', 'USD', 'BTC', 'ETH', 'EUR'];

/**
 * Normalises what a trader types into the server's `BASE/QUOTE` form, with the
 * same pattern the server and the database enforce: trims, upper-cases,
 * accepts `-`, `_`, `:` or space as the separator, and splits `BTCUSDT` on a
 * known quote currency.
 */
export function normalizeSymbol(input: string): SymbolCheck {
  let s = input.trim().toUpperCase().replace(/\s+/g, ' ');
  if (!s) return { ok: false, message: 'Enter a pair such as BTC/USDT' };
  s = s.replace(/[-_: ]/g, '/');
  if (!s.includes('/')) {
    const quote = KNOWN_QUOTES.find((q) => s.endsWith(q) && s.length > q.length + 1);
    if (quote) s = `${s.slice(0, -quote.length)}/${quote}`;
  }
  if (!SYMBOL_PATTERN.test(s)) return { ok: false, message: 'A pair looks like BTC/USDT: letters and digits, one slash' };
  return { ok: true, symbol: s };
}

export function isTimeframe(value: string): value is Timeframe {
  return (TIMEFRAMES as readonly string[]).includes(value);
}

/** Client-side check before `POST /api/symbols`: valid pattern, known timeframe, not already listed. */
export function checkNewSymbol(
  input: string,
  timeframe: string,
  existing: ReadonlyArray<{ symbol: string; timeframe: string }>,
): SymbolCheck & { timeframe?: Timeframe } {
  const result = normalizeSymbol(input);
  if (!result.ok) return result;
  if (!isTimeframe(timeframe)) return { ok: false, message: `Timeframe must be one of ${TIMEFRAMES.join(', ')}` };
  if (existing.some((row) => row.symbol === result.symbol && row.timeframe === timeframe)) {
    return { ok: false, message: `${result.symbol} ${timeframe} is already on your list` };
  }
  return { ...result, timeframe };
}
