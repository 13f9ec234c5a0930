import { describe, expect, it } from 'vitest';
import { SYMBOL_PATTERN } from '../../../common/symbols';
import { checkNewSymbol, COMMON_PAIRS, normalizeSymbol } from './symbol.validation';

describe('normalizeSymbol', () => {
  it.each([
    ['BTC/USDT', 'BTC/USDT'],
    ['  eth/usdt ', 'ETH/USDT'],
    ['sol-usdt', 'SOL/USDT'],
    ['doge_usdt', 'DOGE/USDT'],
    ['BTC USDT', 'BTC/USDT'],
    ['btcusdt', 'BTC/USDT'],
    ['ethbtc', 'ETH/BTC'],
    ['1000pepe/usdt', '1000PEPE/USDT'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeSymbol(input)).toEqual({ ok: true, symbol: expected });
  });

  it.each(['', '   ', 'B/USDT', 'BTC/', 'BTC//USDT', 'BTC/USDT/X', 'BTC$/USDT', 'ABCDEFGHIJKLMNOP/USDT', 'BTC/ABCDEFGHIJK', 'usdt'])(
    'rejects %j',
    (input) => {
      expect(normalizeSymbol(input).ok).toBe(false);
    },
  );

  it('every suggested pair is valid for the server', () => {
    for (const pair of COMMON_PAIRS) expect(SYMBOL_PATTERN.test(pair)).toBe(true);
  });
});

describe('checkNewSymbol', () => {
  const existing = [{ symbol: 'BTC/USDT', timeframe: '1h' }];

  it('accepts a new pair or a new timeframe of a listed pair', () => {
    expect(checkNewSymbol('eth/usdt', '1h', existing)).toEqual({ ok: true, symbol: 'ETH/USDT', timeframe: '1h' });
    expect(checkNewSymbol('btcusdt', '4h', existing)).toEqual({ ok: true, symbol: 'BTC/USDT', timeframe: '4h' });
  });

  it('rejects duplicates and unknown timeframes', () => {
    expect(checkNewSymbol('btc-usdt', '1h', existing)).toMatchObject({ ok: false, message: expect.stringMatching(/already/) });
    expect(checkNewSymbol('ETH/USDT', '2h', existing)).toMatchObject({ ok: false, message: expect.stringMatching(/Timeframe/) });
  });
});
