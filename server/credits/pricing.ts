/**
 * What an answer costs in credits. Pure.
 *
 * The table gives credits per 1k input tokens and per 1k output tokens for
 * each provider/model, and credits per 1k characters for each ElevenLabs
 * voice model. Prices may be fractional (at most 6 decimals) but charges are
 * whole credits: the exact total is computed in integer micro-credits
 * (BigInt) and rounded UP once per request, never per component.
 *
 * A price table is configuration (PRICE_TABLE, JSON). It is validated at
 * startup: a zero or negative price, or a configured model missing from the
 * table, is a startup error — never a silent free answer.
 *
 * Default scale: 1 credit ≈ US$0.001 of provider cost, with about 2× margin.
 *
 * An answer served from the answer cache (server/chat/answer-cache.ts) costs
 * `cache.perAnswer` credits whatever its length (no provider is paid; the
 * price covers our database and relay), plus its voice when spoken.
 */
import { z } from 'zod';
import { ConfigError } from '../../common/env';

export const LLM_PROVIDERS = ['xai', 'openai', 'anthropic', 'local'] as const;
export type LlmProvider = (typeof LLM_PROVIDERS)[number];

const MICRO = 1_000_000n;

const price = z
  .number()
  .positive('must be a positive number of credits')
  .max(1_000_000)
  .refine((v) => Math.abs(v * 1e6 - Math.round(v * 1e6)) < 1e-6, 'at most 6 decimal places');

const llmPrice = z.object({ inputPer1k: price, outputPer1k: price }).strict();
const voicePrice = z.object({ per1kCharacters: price }).strict();
const cachePrice = z.object({ perAnswer: price }).strict();
const modelName = z.string().trim().min(1);

export const priceTableSchema = z
  .object({
    llm: z.object(Object.fromEntries(LLM_PROVIDERS.map((p) => [p, z.record(modelName, llmPrice).optional()])) as Record<LlmProvider, z.ZodOptional<z.ZodRecord<typeof modelName, typeof llmPrice>>>).strict(),
    /** Keyed by ElevenLabs model id. */
    voice: z.record(modelName, voicePrice),
    /** An answer from the answer cache; absent = DEFAULT_CACHE_PRICE. */
    cache: cachePrice.optional(),
  })
  .strict();

export type PriceTable = z.infer<typeof priceTableSchema>;

/** Credits for an answer served from the answer cache, when the price table does not say. */
export const DEFAULT_CACHE_PRICE = { perAnswer: 1 } as const;

export const DEFAULT_PRICE_TABLE: PriceTable = {
  llm: {
    // Provider list prices per 1M tokens (input / output), ×2 margin, at $0.001 per credit.
    xai: {
      'grok-4-fast-non-reasoning': { inputPer1k: 0.4, outputPer1k: 1 }, // $0.20 / $0.50
      'grok-3-mini': { inputPer1k: 0.6, outputPer1k: 1 }, // $0.30 / $0.50
    },
    openai: {
      'gpt-4.1-mini': { inputPer1k: 0.8, outputPer1k: 3.2 }, // $0.40 / $1.60
      'gpt-4o-mini': { inputPer1k: 0.3, outputPer1k: 1.2 }, // $0.15 / $0.60
    },
    anthropic: {
      'claude-sonnet-4-5': { inputPer1k: 6, outputPer1k: 30 }, // $3 / $15
      'claude-haiku-4-5': { inputPer1k: 2, outputPer1k: 10 }, // $1 / $5
    },
    // Costs us nothing but is not free: keeps the credits flow identical offline.
    local: { 'zmarty-local-analyst': { inputPer1k: 0.1, outputPer1k: 0.1 } },
  },
  voice: {
    eleven_flash_v2_5: { per1kCharacters: 100 }, // ≈ $0.05 per 1k characters
    eleven_turbo_v2_5: { per1kCharacters: 100 },
    eleven_multilingual_v2: { per1kCharacters: 200 },
  },
  cache: DEFAULT_CACHE_PRICE,
};

export interface PricedModel {
  provider: LlmProvider;
  model: string;
}

/**
 * Parses and validates a table (JSON text or object). `require` lists the
 * models the running configuration can use; each must be priced.
 */
export function parsePriceTable(source: string | unknown, require: { llm?: PricedModel[]; voiceModels?: string[] } = {}): PriceTable {
  let raw: unknown = source;
  if (typeof source === 'string') {
    try {
      raw = JSON.parse(source);
    } catch {
      throw new ConfigError('PRICE_TABLE: not valid JSON');
    }
  }
  const parsed = priceTableSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `PRICE_TABLE.${i.path.map(String).join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid price table:\n  ${lines.join('\n  ')}`);
  }
  const table = parsed.data;
  const missing = [
    ...(require.llm ?? []).filter((m) => !table.llm[m.provider]?.[m.model]).map((m) => `no price for ${m.provider} model "${m.model}"`),
    ...(require.voiceModels ?? []).filter((v) => !table.voice[v]).map((v) => `no price for voice model "${v}"`),
  ];
  if (missing.length > 0) throw new ConfigError(`Invalid price table:\n  ${missing.join('\n  ')}`);
  return table;
}

/** The shortest answer worth giving: below this many output tokens the request is refused, not capped. */
export const MIN_ANSWER_OUTPUT_TOKENS = 64;
/** Spoken characters per output token, to price voice before the text exists. */
export const VOICE_CHARACTERS_PER_TOKEN = 4;

/** One route's answer, before it exists: a provider/model, the prompt's size, and voice or not. */
export interface AnswerShape {
  route: PricedModel;
  inputTokens: number;
  voiceModel?: string;
}

export interface BillableUsage {
  inputTokens: number;
  outputTokens: number;
  voiceCharacters?: number;
}

export interface Pricer {
  table: PriceTable;
  /** Whole credits for one request (rounded up once); 0 only for zero usage. Throws for an unpriced model. */
  priceOf(usage: BillableUsage, provider: LlmProvider, model: string, voiceModel?: string): number;
  /**
   * Credits to hold before the call: the most expensive candidate provider
   * with the full output budget (and voice for it: ~4 characters per token
   * unless given). At least 1.
   */
  minimumReserve(input: { candidates: PricedModel[]; inputTokens: number; maxOutputTokens: number; voiceModel?: string; voiceCharacters?: number }): number;
  /**
   * Whole credits for an answer from the answer cache: the table's
   * `cache.perAnswer`, plus its voice characters at the voice model's price.
   */
  cachedAnswerCost(voiceCharacters?: number, voiceModel?: string): number;
  /** Credits an answer of `outputTokens` costs on its route (voice at ~4 characters per token). */
  answerCost(shape: AnswerShape, outputTokens: number): number;
  /**
   * What to reserve for an answer on its route: `amount` buys the full output
   * budget, `minAmount` a minimal answer (MIN_ANSWER_OUTPUT_TOKENS, or the
   * budget if smaller). A balance in between buys a shorter answer.
   */
  reservationFor(shape: AnswerShape, maxOutputTokens: number): { amount: number; minAmount: number };
  /** The longest answer (≤ maxOutputTokens) that `credits` pay for on this route; 0 when not even one token fits. */
  outputCapFor(shape: AnswerShape, credits: number, maxOutputTokens: number): number;
}

export function createPricer(table: PriceTable): Pricer {
  const micro = (v: number) => BigInt(Math.round(v * 1e6));
  const count = (n: number | undefined, what: string) => {
    if (n === undefined) return 0n;
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${n}`);
    return BigInt(n);
  };

  const priceOf: Pricer['priceOf'] = (usage, provider, model, voiceModel) => {
    const p = table.llm[provider]?.[model];
    if (!p) throw new RangeError(`no price for ${provider} model "${model}"`);
    // Σ units × micro-credits per 1k units, then one division rounding up.
    let perThousand = count(usage.inputTokens, 'inputTokens') * micro(p.inputPer1k) + count(usage.outputTokens, 'outputTokens') * micro(p.outputPer1k);
    const chars = count(usage.voiceCharacters, 'voiceCharacters');
    if (chars > 0n) {
      const v = voiceModel === undefined ? undefined : table.voice[voiceModel];
      if (!v) throw new RangeError(`no price for voice model "${voiceModel}"`);
      perThousand += chars * micro(v.per1kCharacters);
    }
    const divisor = 1000n * MICRO;
    return Number((perThousand + divisor - 1n) / divisor);
  };

  const voiceMicroPer1k = (characters: number | undefined, voiceModel: string | undefined): bigint => {
    const chars = count(characters, 'voiceCharacters');
    if (chars === 0n) return 0n;
    const v = voiceModel === undefined ? undefined : table.voice[voiceModel];
    if (!v) throw new RangeError(`no price for voice model "${voiceModel}"`);
    return chars * micro(v.per1kCharacters);
  };

  const cachedAnswerCost: Pricer['cachedAnswerCost'] = (voiceCharacters, voiceModel) => {
    // One answer = 1,000 thousandths, so the per-answer price joins the voice's per-1k sum; rounded up once.
    const perThousand = 1000n * micro((table.cache ?? DEFAULT_CACHE_PRICE).perAnswer) + voiceMicroPer1k(voiceCharacters, voiceModel);
    const divisor = 1000n * MICRO;
    return Number((perThousand + divisor - 1n) / divisor);
  };

  const answerCost = (shape: AnswerShape, outputTokens: number) =>
    Math.max(
      1,
      priceOf(
        { inputTokens: shape.inputTokens, outputTokens, voiceCharacters: shape.voiceModel ? outputTokens * VOICE_CHARACTERS_PER_TOKEN : 0 },
        shape.route.provider,
        shape.route.model,
        shape.voiceModel,
      ),
    );

  return {
    table,
    priceOf,
    cachedAnswerCost,
    answerCost,
    reservationFor: (shape, maxOutputTokens) => ({
      amount: answerCost(shape, maxOutputTokens),
      minAmount: answerCost(shape, Math.min(MIN_ANSWER_OUTPUT_TOKENS, maxOutputTokens)),
    }),
    outputCapFor: (shape, credits, maxOutputTokens) => {
      // The cost grows with the output: the largest n with cost(n) ≤ credits, by bisection.
      if (answerCost(shape, 1) > credits) return 0;
      let lo = 1;
      let hi = maxOutputTokens;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (answerCost(shape, mid) <= credits) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    },
    minimumReserve: (input) => {
      if (input.candidates.length === 0) throw new RangeError('minimumReserve needs at least one candidate');
      const voiceCharacters = input.voiceModel ? (input.voiceCharacters ?? input.maxOutputTokens * 4) : 0;
      const worst = Math.max(
        ...input.candidates.map((c) =>
          priceOf({ inputTokens: input.inputTokens, outputTokens: input.maxOutputTokens, voiceCharacters }, c.provider, c.model, input.voiceModel),
        ),
      );
      return Math.max(1, worst);
    },
  };
}
