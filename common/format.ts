/**
 * How numbers and times read to a trader, in one place for both the chat
 * (the prompt and the local analyst, server side) and the cards (client), so a
 * price in an answer and the same price on a card are the same string.
 * Locale-independent (en-US digits): answers are compared in tests and read aloud.
 */

/** Enough digits to be useful for both BTC (97,500.5) and PEPE (0.00001234). */
export function formatPrice(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 2 : abs >= 1 ? 4 : abs >= 0.01 ? 6 : 10;
  return new Intl.NumberFormat('en-US', { maximumFractionDigits: digits, useGrouping: true }).format(value);
}

/** A change with its sign: "+2.10%", "-0.45%", "0.00%". */
export function formatSignedPct(value: number, digits = 2): string {
  const text = value.toFixed(digits);
  // -0.001 rounds to "-0.00": no sign on a zero.
  if (Number(text) === 0) return `${(0).toFixed(digits)}%`;
  return `${value > 0 ? '+' : ''}${text}%`;
}

/**
 * A candle's open time with its timezone, e.g. "Jan 1, 2025, 14:00 UTC": a bare
 * "2:00 PM" is ambiguous across exchanges and travellers. `timeZone` defaults to
 * the reader's own.
 */
export function formatCandleTime(iso: string, timeZone?: string): string {
  const date = new Date(iso);
  if (!Number.isFinite(date.getTime())) return '—';
  return new Intl.DateTimeFormat('en-US', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
    ...(timeZone ? { timeZone } : {}),
  }).format(date);
}
