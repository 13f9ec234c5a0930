import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/env';
import { createPricer, DEFAULT_CACHE_PRICE, DEFAULT_PRICE_TABLE, MIN_ANSWER_OUTPUT_TOKENS, parsePriceTable, type PriceTable } from './pricing';

const table: PriceTable = {
  llm: {
    xai: { 'grok-a': { inputPer1k: 0.4, outputPer1k: 1 } },
    anthropic: { 'claude-a': { inputPer1k: 6, outputPer1k: 30 } },
    local: { 'local-a': { inputPer1k: 0.1, outputPer1k: 0.1 } },
  },
  voice: { eleven_flash_v2_5: { per1kCharacters: 100 } },
};

describe('parsePriceTable', () => {
  it('accepts the default table and JSON text', () => {
    expect(parsePriceTable(DEFAULT_PRICE_TABLE)).toEqual(DEFAULT_PRICE_TABLE);
    expect(parsePriceTable(JSON.stringify(table))).toEqual(table);
  });

  it.each([
    ['zero price', { ...table, llm: { xai: { 'grok-a': { inputPer1k: 0, outputPer1k: 1 } } } }, 'PRICE_TABLE.llm.xai.grok-a.inputPer1k: must be a positive number'],
    ['negative price', { ...table, voice: { v: { per1kCharacters: -1 } } }, 'PRICE_TABLE.voice.v.per1kCharacters: must be a positive'],
    ['price as string', { ...table, llm: { xai: { 'grok-a': { inputPer1k: '1', outputPer1k: 1 } } } }, 'PRICE_TABLE.llm.xai.grok-a.inputPer1k'],
    ['missing output price', { ...table, llm: { xai: { 'grok-a': { inputPer1k: 1 } } } }, 'outputPer1k'],
    ['unknown provider', { ...table, llm: { mistral: {} } }, 'PRICE_TABLE.llm'],
    ['too many decimals', { ...table, llm: { xai: { 'grok-a': { inputPer1k: 0.0000001, outputPer1k: 1 } } } }, 'at most 6 decimal places'],
    ['no voice section', { llm: table.llm }, 'PRICE_TABLE.voice'],
  ])('rejects %s', (_name, value, message) => {
    expect(() => parsePriceTable(value)).toThrow(ConfigError);
    expect(() => parsePriceTable(value)).toThrow(message);
  });

  it('rejects text that is not JSON', () => {
    expect(() => parsePriceTable('{nope')).toThrow('PRICE_TABLE: not valid JSON');
  });

  it('fails at startup when a configured model or voice model has no price', () => {
    expect(() => parsePriceTable(table, { llm: [{ provider: 'xai', model: 'grok-a' }, { provider: 'openai', model: 'gpt-x' }] })).toThrow(
      'no price for openai model "gpt-x"',
    );
    expect(() => parsePriceTable(table, { voiceModels: ['eleven_v3'] })).toThrow('no price for voice model "eleven_v3"');
    expect(parsePriceTable(table, { llm: [{ provider: 'anthropic', model: 'claude-a' }], voiceModels: ['eleven_flash_v2_5'] })).toEqual(table);
  });
});

describe('priceOf', () => {
  const pricer = createPricer(table);
  it.each([
    // input×0.4 + output×1 per 1k, rounded up once
    [{ inputTokens: 0, outputTokens: 0 }, 'xai', 'grok-a', undefined, 0],
    [{ inputTokens: 1, outputTokens: 0 }, 'xai', 'grok-a', undefined, 1],
    [{ inputTokens: 2500, outputTokens: 0 }, 'xai', 'grok-a', undefined, 1], // exactly 1.0
    [{ inputTokens: 2501, outputTokens: 0 }, 'xai', 'grok-a', undefined, 2],
    [{ inputTokens: 2000, outputTokens: 200 }, 'xai', 'grok-a', undefined, 1], // 0.8 + 0.2 = 1.0 exactly (no float drift)
    [{ inputTokens: 1000, outputTokens: 1000 }, 'anthropic', 'claude-a', undefined, 36],
    [{ inputTokens: 1000, outputTokens: 100, voiceCharacters: 450 }, 'anthropic', 'claude-a', 'eleven_flash_v2_5', 54], // 6 + 3 + 45
    [{ inputTokens: 3, outputTokens: 3, voiceCharacters: 1 }, 'local', 'local-a', 'eleven_flash_v2_5', 1], // 0.0006 + 0.1 → 1
    [{ inputTokens: 10_000_000, outputTokens: 10_000_000 }, 'anthropic', 'claude-a', undefined, 360_000],
  ] as const)('%j on %s/%s (voice %s) = %i', (usage, provider, model, voice, credits) => {
    expect(pricer.priceOf(usage, provider, model, voice)).toBe(credits);
  });

  it('refuses unpriced models and bad counts instead of charging 0', () => {
    expect(() => pricer.priceOf({ inputTokens: 1, outputTokens: 1 }, 'openai', 'gpt-4.1-mini')).toThrow('no price for openai');
    expect(() => pricer.priceOf({ inputTokens: 1, outputTokens: 1, voiceCharacters: 5 }, 'xai', 'grok-a')).toThrow('no price for voice model');
    expect(() => pricer.priceOf({ inputTokens: 1.5, outputTokens: 1 }, 'xai', 'grok-a')).toThrow(RangeError);
    expect(() => pricer.priceOf({ inputTokens: -1, outputTokens: 1 }, 'xai', 'grok-a')).toThrow(RangeError);
  });
});

describe('minimumReserve', () => {
  const pricer = createPricer(table);
  it('reserves for the most expensive candidate with the full output budget', () => {
    const candidates = [
      { provider: 'xai' as const, model: 'grok-a' },
      { provider: 'anthropic' as const, model: 'claude-a' },
    ];
    // claude: 2000×6/1000 + 800×30/1000 = 12 + 24
    expect(pricer.minimumReserve({ candidates, inputTokens: 2000, maxOutputTokens: 800 })).toBe(36);
    // + voice for 800×4 characters at 100 per 1k = 320
    expect(pricer.minimumReserve({ candidates, inputTokens: 2000, maxOutputTokens: 800, voiceModel: 'eleven_flash_v2_5' })).toBe(356);
    expect(pricer.minimumReserve({ candidates: [{ provider: 'local', model: 'local-a' }], inputTokens: 0, maxOutputTokens: 0 })).toBe(1);
  });
});

describe('reservation on the route', () => {
  const pricer = createPricer(table);
  const grok = { route: { provider: 'xai' as const, model: 'grok-a' }, inputTokens: 2000 };
  const claude = { route: { provider: 'anthropic' as const, model: 'claude-a' }, inputTokens: 2000 };

  it('prices the full budget and a minimal answer on the provider tried first, not the priciest', () => {
    // grok: 2000×0.4/1000 + 1024×1/1000 = 0.8 + 1.024 → 2; minimal: 0.8 + 0.064 → 1
    expect(pricer.reservationFor(grok, 1024)).toEqual({ amount: 2, minAmount: 1 });
    // claude: 12 + 30.72 → 43; minimal: 12 + 1.92 → 14
    expect(pricer.reservationFor(claude, 1024)).toEqual({ amount: 43, minAmount: 14 });
    // voice: + 4 characters per token at 100 per 1k → 1024×0.4 = 409.6 more
    expect(pricer.reservationFor({ ...grok, voiceModel: 'eleven_flash_v2_5' }, 1024)).toEqual({ amount: 412, minAmount: 27 });
  });

  it('caps the output to the longest answer the credits pay for', () => {
    // claude with 30 credits: 12 + n×0.03 ≤ 30 → n = 600
    expect(pricer.outputCapFor(claude, 30, 1024)).toBe(600);
    expect(pricer.answerCost(claude, 600)).toBe(30);
    expect(pricer.answerCost(claude, 601)).toBe(31);
    expect(pricer.outputCapFor(claude, 100, 1024)).toBe(1024);
    expect(pricer.outputCapFor(claude, 12, 1024)).toBe(0);
    expect(pricer.outputCapFor(claude, 13, 1024)).toBe(33);
  });

  it('sizes a shorter answer rather than a refusal for a balance between the minimal and the full price', () => {
    const { amount, minAmount } = pricer.reservationFor(claude, 1024);
    const balance = 30;
    expect(balance).toBeLessThan(amount);
    expect(balance).toBeGreaterThanOrEqual(minAmount);
    expect(pricer.outputCapFor(claude, balance, 1024)).toBeGreaterThanOrEqual(MIN_ANSWER_OUTPUT_TOKENS);
  });
});


describe('the cache price', () => {
  it('charges a cached answer the table’s per-answer price, or the documented default without one', () => {
    expect(createPricer({ ...table, cache: { perAnswer: 3 } }).cachedAnswerCost()).toBe(3);
    expect(createPricer(table).cachedAnswerCost()).toBe(DEFAULT_CACHE_PRICE.perAnswer);
  });

  it('adds the voice characters at the voice price, rounding up once for the whole answer', () => {
    const pricer = createPricer({ ...table, cache: { perAnswer: 0.5 } });
    // 0.5 + 1,234 characters × 0.1 credit = 123.9 → 124
    expect(pricer.cachedAnswerCost(1234, 'eleven_flash_v2_5')).toBe(124);
    expect(pricer.cachedAnswerCost(0)).toBe(1);
    expect(() => pricer.cachedAnswerCost(10, 'no-such-voice')).toThrow('no price for voice model');
  });

  it('refuses a zero cache price in PRICE_TABLE', () => {
    expect(() => parsePriceTable({ ...table, cache: { perAnswer: 0 } })).toThrow('PRICE_TABLE.cache.perAnswer: must be a positive');
  });
});
