import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { watchersWebhookPayloadSchema } from './watchers-upsert.schema';
import { affectedWatchers, backoffDelay, checkTimestampAge, parseTimestampHeader, subscriptionAfter, type Subscription } from './watchers-sync.logic';
import { importWebhookKey, signWebhook, verifyWebhookSignature } from './webhook.signature';

const USER = '00000000-0000-4000-8000-000000000001';
const rec = (id: number, symbol: string, timeframe: string) => ({ id, user_id: USER, symbol, timeframe, created_at: '2025-01-01T00:00:00Z' });
const sub = (symbol: string, timeframe: string): Subscription => ({ userId: USER, symbol, timeframe });

describe('subscriptionAfter', () => {
  it.each([
    ['INSERT', { type: 'INSERT', record: rec(1, 'BTC/USDT', '1h'), old_record: null }, { sourceId: 1, next: sub('BTC/USDT', '1h') }],
    ['UPDATE', { type: 'UPDATE', record: rec(2, 'BTC/USDT', '4h'), old_record: rec(2, 'BTC/USDT', '1h') }, { sourceId: 2, next: sub('BTC/USDT', '4h') }],
    ['DELETE', { type: 'DELETE', record: null, old_record: rec(3, 'ETH/USDT', '1d') }, { sourceId: 3, next: null }],
  ])('%s', (_name, body, expected) => {
    const payload = watchersWebhookPayloadSchema.parse({ table: 'user_symbols', schema: 'public', ...body });
    expect(subscriptionAfter(payload)).toEqual(expected);
  });
});

describe('affectedWatchers', () => {
  it.each<[string, Subscription | null, Subscription | null, Array<[string, string]>]>([
    ['new subscription', null, sub('BTC/USDT', '1h'), [['BTC/USDT', '1h']]],
    ['deleted subscription', sub('BTC/USDT', '1h'), null, [['BTC/USDT', '1h']]],
    ['unknown row deleted', null, null, []],
    ['unchanged', sub('BTC/USDT', '1h'), sub('BTC/USDT', '1h'), [['BTC/USDT', '1h']]],
    // Both directions of a move yield the same order: that is what prevents deadlocks.
    ['move 4h → 1h', sub('BTC/USDT', '4h'), sub('BTC/USDT', '1h'), [['BTC/USDT', '1h'], ['BTC/USDT', '4h']]],
    ['move 1h → 4h', sub('BTC/USDT', '1h'), sub('BTC/USDT', '4h'), [['BTC/USDT', '1h'], ['BTC/USDT', '4h']]],
    ['symbol change', sub('SOL/USDT', '1m'), sub('ADA/USDT', '1m'), [['ADA/USDT', '1m'], ['SOL/USDT', '1m']]],
  ])('%s', (_name, stored, next, expected) => {
    expect(affectedWatchers(stored, next).map((k) => [k.symbol, k.timeframe])).toEqual(expected);
  });
});

describe('timestamps', () => {
  it.each<[string | null, number | null]>([
    ['1700000000000', 1_700_000_000_000],
    ['0', 0],
    [null, null],
    ['', null],
    [' 1700000000000', null],
    ['1700000000.5', null],
    ['-5', null],
    ['1e12', null],
    ['12345678901234567', null],
  ])('parseTimestampHeader(%j) = %j', (header, expected) => {
    expect(parseTimestampHeader(header)).toBe(expected);
  });

  it.each([
    [10_000, 10_000, 1000, 'ok'],
    [9_000, 10_000, 1000, 'ok'],
    [8_999, 10_000, 1000, 'too_old'],
    [11_000, 10_000, 1000, 'ok'],
    [11_001, 10_000, 1000, 'too_new'],
    [0, 10_000, 60_000, 'ok'],
  ])('checkTimestampAge(%d, now %d, ±%d) = %s', (ts, now, tolerance, expected) => {
    expect(checkTimestampAge(ts, now, tolerance)).toBe(expected);
  });
});

describe('backoffDelay', () => {
  it.each([
    [1, 250],
    [2, 500],
    [3, 1000],
    [7, 16_000],
    [8, 30_000],
    [50, 30_000],
  ])('attempt %d waits %d ms', (attempt, expected) => {
    expect(backoffDelay(attempt, { initialMs: 250, maxMs: 30_000, factor: 2 })).toBe(expected);
  });
});

describe('webhook signature', () => {
  const secret = 'sig-test-secret-0123456789abcdefgh';
  const body = JSON.stringify({ type: 'INSERT', note: 'ünïcode ✓' });

  it('is the hex HMAC-SHA256 of "timestamp.body" (checked against node:crypto)', async () => {
    const key = await importWebhookKey(secret);
    const expected = createHmac('sha256', secret).update(`1700000000000.${body}`).digest('hex');
    expect(await signWebhook(key, '1700000000000', body)).toBe(expected);
  });

  it('verifies only the exact timestamp, body and secret', async () => {
    const key = await importWebhookKey(secret);
    const bytes = new TextEncoder().encode(body);
    const good = await signWebhook(key, '1700000000000', body);
    expect(await verifyWebhookSignature(key, '1700000000000', bytes, good)).toBe(true);
    expect(await verifyWebhookSignature(key, '1700000000000', bytes, good.toUpperCase())).toBe(true);
    expect(await verifyWebhookSignature(key, '1700000000001', bytes, good)).toBe(false);
    expect(await verifyWebhookSignature(key, '1700000000000', new TextEncoder().encode(body + ' '), good)).toBe(false);
    expect(await verifyWebhookSignature(await importWebhookKey(secret + 'x'), '1700000000000', bytes, good)).toBe(false);
    expect(await verifyWebhookSignature(key, '1700000000000', bytes, good.slice(0, 62))).toBe(false);
    expect(await verifyWebhookSignature(key, '1700000000000', bytes, 'zz' + good.slice(2))).toBe(false);
  });

  it('refuses an empty secret', () => {
    expect(() => importWebhookKey('')).toThrow(/must not be empty/);
  });
});
