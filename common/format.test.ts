import { describe, expect, it } from 'vitest';
import { formatCandleTime, formatPrice, formatSignedPct } from './format';

describe('one number format for chat and cards', () => {
  it.each([
    [97500.5, '97,500.5'],
    [98123.456, '98,123.46'],
    [3.14159, '3.1416'],
    [0.1234567, '0.123457'],
    [0.00001234, '0.00001234'],
  ])('formatPrice(%s) = %s', (v, s) => expect(formatPrice(v)).toBe(s));

  it.each([
    [2.1, '+2.10%'],
    [-0.454, '-0.45%'],
    [0, '0.00%'],
    [-0.001, '0.00%'],
  ])('formatSignedPct(%s) = %s', (v, s) => expect(formatSignedPct(v)).toBe(s));

  it('shows candle times with their timezone', () => {
    expect(formatCandleTime('2025-01-01T14:00:00Z', 'UTC')).toBe('Jan 1, 2025, 14:00 UTC');
    expect(formatCandleTime('2025-01-01T14:00:00Z', 'America/New_York')).toBe('Jan 1, 2025, 09:00 EST');
    expect(formatCandleTime('not a date', 'UTC')).toBe('—');
  });
});
