import { Hono } from 'hono';
import { z } from 'zod';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { gatherContext, createToolExecutors } from '../chat/chat-context';
import { buildPrompt } from '../context';
import type { AuthedEnv } from '../http/types';
import { estimatePromptTokens, TOOL_SPECS, type ModelRouter } from '../router';
import type { Tiers } from '../tiers/tiers';
import type { AnswerShape, Pricer } from './pricing';

/** The answer length the "≈ per answer" prices assume (about 1,200 characters spoken). */
export const TYPICAL_OUTPUT_TOKENS = 300;

export interface CreditsRoutesDeps {
  chatDb: Db;
  tradingDb: Db;
  log: Logger;
  router: Pick<ModelRouter, 'plan' | 'configured'>;
  pricer: Pricer;
  voice: { available: boolean; modelId?: string };
  /** The output budget (and voice) of the user's tier set what is quoted. */
  tiers: Pick<Tiers, 'forUser'>;
}

interface SpendRow {
  requestId: string;
  question: string | null;
  at: string;
  provider: string | null;
  model: string | null;
  settled: boolean;
  credits: number;
  voiceCredits: number;
  estimated: boolean;
}

// One row per question: its reservation (with the question preview), any extension, and its settlement.
// An open answer shows what it holds; a settled one what it was charged.
const spendSql = `
  with answers as (
    select request_id,
           min(created_at) filter (where reason = 'reserve') as at,
           max(question) filter (where reason = 'reserve') as question,
           bool_or(reason = 'settle') as settled,
           -sum(delta)::integer as credits,
           coalesce(max(voice_credits) filter (where reason = 'settle'), 0) as voice_credits,
           max(provider) filter (where reason = 'settle') as provider,
           max(model) filter (where reason = 'settle') as model,
           coalesce(bool_or(estimated) filter (where reason = 'settle'), false) as estimated
      from public.credits_ledger
     where user_id = auth.uid() and reason in ('reserve', 'extend', 'settle')
     group by request_id
  )
  select request_id as "requestId", question, at, nullif(provider, 'none') as provider, nullif(model, 'none') as model,
         settled, credits, voice_credits as "voiceCredits", estimated,
         count(*) over () as total_questions,
         sum(credits) over () as total_credits,
         sum(voice_credits) over () as total_voice
    from answers
   order by at desc, request_id
   limit $1`;

const limitSchema = z.coerce.number().int().min(1).max(200).default(50);

/**
 * What answers cost, for the user: `GET /credits/spend` lists spend per
 * question (read under RLS from the ledger) with totals; `GET /credits/prices`
 * quotes a typical and a full answer on the user's own prompt, text and voice.
 */
export function createCreditsRoutes(deps: CreditsRoutesDeps) {
  const app = new Hono<AuthedEnv>();

  app.get('/credits/spend', async (c) => {
    const parsed = limitSchema.safeParse(c.req.query('limit') ?? undefined);
    if (!parsed.success) throw new AppError('validation_failed', 'limit must be an integer from 1 to 200');
    const result = await deps.chatDb.asUser(c.var.user.claims, async (q) => {
      const balance = (await q.query<{ balance: number }>('select balance from public.credit_balance where user_id = auth.uid()')).rows[0];
      const rows = (await q.query<SpendRow & { total_questions: number; total_credits: number; total_voice: number }>(spendSql, [parsed.data])).rows;
      const first = rows[0];
      return {
        balance: Number(balance?.balance ?? 0),
        items: rows.map(({ total_questions: _q, total_credits: _c, total_voice: _v, ...r }) => ({
          ...r,
          status: r.settled ? 'charged' : 'in_progress',
          textCredits: r.credits - r.voiceCredits,
        })),
        totals: {
          questions: Number(first?.total_questions ?? 0),
          credits: Number(first?.total_credits ?? 0),
          voiceCredits: Number(first?.total_voice ?? 0),
          textCredits: Number(first?.total_credits ?? 0) - Number(first?.total_voice ?? 0),
        },
      };
    });
    return c.json(result);
  });

  app.get('/credits/prices', async (c) => {
    const user = c.var.user;
    // The user's own context (their pairs make the prompt longer), with a plain question: the default route.
    const [context, tier] = await Promise.all([gatherContext(deps, user), deps.tiers.forUser(user.userId)]);
    const prompt = buildPrompt({ userMessage: 'What is the signal?', symbols: context.symbols, market: context.market, now: new Date(), toolsAvailable: true });
    const inputTokens = estimatePromptTokens({ system: prompt.system, messages: prompt.messages, tools: TOOL_SPECS });
    const route = deps.router.plan({ prompt, tools: createToolExecutors(deps, user) });
    const max = tier.maxOutputTokens;
    const text: AnswerShape = { route, inputTokens };
    const voiceModel = deps.voice.available && tier.voiceAllowed ? deps.voice.modelId : undefined;
    const spoken: AnswerShape | undefined = voiceModel ? { ...text, voiceModel } : undefined;
    // Every route a question may take: the fullest answer on the priciest, the shortest on the cheapest.
    const routes = deps.router.configured().map((r) => deps.pricer.reservationFor({ route: r, inputTokens }, max));
    return c.json({
      maxOutputTokens: max,
      typicalOutputTokens: TYPICAL_OUTPUT_TOKENS,
      text: { provider: route.provider, model: route.model, perAnswer: deps.pricer.answerCost(text, TYPICAL_OUTPUT_TOKENS), upTo: deps.pricer.answerCost(text, max) },
      voice: spoken
        ? {
            model: voiceModel,
            perAnswer: deps.pricer.answerCost(spoken, TYPICAL_OUTPUT_TOKENS) - deps.pricer.answerCost(text, TYPICAL_OUTPUT_TOKENS),
            upTo: deps.pricer.answerCost(spoken, max) - deps.pricer.answerCost(text, max),
          }
        : null,
      // Below `fullAnswer` some answers are shortened to fit; below `minimumAnswer` every question is refused.
      fullAnswer: Math.max(...routes.map((r) => r.amount)),
      minimumAnswer: Math.min(...routes.map((r) => r.minAmount)),
    });
  });

  return app;
}
