/**
 * Environment → RouterOptions. Empty strings count as unset. A provider is
 * configured by its API key alone; base URL and model have defaults.
 *
 *   XAI_API_KEY, XAI_BASE_URL (https://api.x.ai/v1), XAI_MODEL (grok-4-fast-non-reasoning)
 *   OPENAI_API_KEY, OPENAI_BASE_URL (https://api.openai.com/v1), OPENAI_MODEL (gpt-4.1-mini)
 *   ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL (https://api.anthropic.com), ANTHROPIC_MODEL (claude-sonnet-4-5)
 *   FIRST_TOKEN_TIMEOUT_MS (10000), LOCAL_ANALYST_TOKEN_DELAY_MS (4), LLM_LOCAL_FALLBACK (false)
 */
import { z } from 'zod';
import { parseConfig } from '../../common/env';
import type { RouterOptions } from './router';

const optional = z.string().trim().min(1).optional();
const url = z.url({ protocol: /^https?$/ }).optional();
const ms = z.coerce.number().int().positive().optional();

export const routerEnvSchema = z.object({
  XAI_API_KEY: optional,
  XAI_BASE_URL: url,
  XAI_MODEL: optional,
  OPENAI_API_KEY: optional,
  OPENAI_BASE_URL: url,
  OPENAI_MODEL: optional,
  ANTHROPIC_API_KEY: optional,
  ANTHROPIC_BASE_URL: url,
  ANTHROPIC_MODEL: optional,
  FIRST_TOKEN_TIMEOUT_MS: ms,
  LOCAL_ANALYST_TOKEN_DELAY_MS: z.coerce.number().int().min(0).optional(),
  LLM_LOCAL_FALLBACK: z.enum(['true', 'false', '1', '0']).optional(),
});

export function routerOptionsFromEnv(env: Record<string, string | undefined>): RouterOptions {
  const e = parseConfig(routerEnvSchema, env);
  return {
    providers: {
      xai: { apiKey: e.XAI_API_KEY, baseURL: e.XAI_BASE_URL, model: e.XAI_MODEL },
      openai: { apiKey: e.OPENAI_API_KEY, baseURL: e.OPENAI_BASE_URL, model: e.OPENAI_MODEL },
      anthropic: { apiKey: e.ANTHROPIC_API_KEY, baseURL: e.ANTHROPIC_BASE_URL, model: e.ANTHROPIC_MODEL },
    },
    firstTokenTimeoutMs: e.FIRST_TOKEN_TIMEOUT_MS,
    local: { tokenDelayMs: e.LOCAL_ANALYST_TOKEN_DELAY_MS },
    localAsLastResort: e.LLM_LOCAL_FALLBACK === 'true' || e.LLM_LOCAL_FALLBACK === '1',
  };
}
