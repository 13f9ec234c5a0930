/**
 * Which provider goes first. Base order: Grok (xai) → GPT (openai) → Claude
 * (anthropic), keeping only configured ones. Then one rule, first match wins:
 *
 * 1. complex reasoning → Claude first. "Complex" means any of:
 *    - the message mentions two or more distinct symbols;
 *    - it contains a reasoning cue: compare, comparison, versus, vs, why,
 *      explain, trade-off, pros and cons, step by step, in depth, deep dive,
 *      analyse/analyze, analysis, strategy, scenario, what if, should I;
 *    - it is 400 characters or longer.
 * 2. tool use needed → GPT first. Needed means tools are offered AND the
 *    answer needs data the prompt lacks: a mentioned symbol has no market
 *    entry in the context, the market data is 'unavailable', or the user asks
 *    for the list of their symbols or a non-30d window (7d, all-time).
 * 3. otherwise the base order (Grok first, the fastest and cheapest).
 *
 * With no provider configured the route is the offline local analyst.
 */
import { findMentionedSymbols } from '../context';
import type { PromptInput } from '../context';
import type { ProviderName, RouteKind } from './router.types';

export const BASE_ORDER: readonly ProviderName[] = ['xai', 'openai', 'anthropic'];
export const COMPLEX_MIN_CHARS = 400;

const REASONING_CUES =
  /\b(compare|comparison|versus|vs\.?|why|explain|trade-?offs?|pros and cons|step[- ]by[- ]step|in depth|deep dive|analy[sz]e|analysis|strategy|scenarios?|what if|should i)\b/i;
const TOOL_DATA_CUES = /\b(my (symbols|pairs|coins|watchlist)|watchlist|what do i (follow|watch)|7d|7[- ]day|weekly|all[- ]time|since inception)\b/i;

export function classifyRequest(input: PromptInput, toolsAvailable: boolean): { kind: 'complex' | 'tools' | 'default'; reason: string } {
  const message = input.userMessage;
  const mentioned = findMentionedSymbols(message, input.symbols);
  if (mentioned.length >= 2) return { kind: 'complex', reason: `mentions ${mentioned.length} symbols` };
  const cue = REASONING_CUES.exec(message);
  if (cue) return { kind: 'complex', reason: `reasoning cue "${cue[0].toLowerCase()}"` };
  if (message.length >= COMPLEX_MIN_CHARS) return { kind: 'complex', reason: `message of ${message.length} characters` };

  if (toolsAvailable) {
    if (input.market === 'unavailable') return { kind: 'tools', reason: 'market data unavailable in context' };
    const known = new Set(input.market.map((e) => e.symbol));
    const missing = mentioned.find((s) => !known.has(s));
    if (missing) return { kind: 'tools', reason: `no context for ${missing}` };
    const ask = TOOL_DATA_CUES.exec(message);
    if (ask) return { kind: 'tools', reason: `asks for "${ask[0].toLowerCase()}"` };
  }
  return { kind: 'default', reason: 'default order' };
}

/** The providers to try, in order. `configured` is the set with an API key. */
export function orderProviders(
  configured: readonly ProviderName[],
  kind: RouteKind,
  prefer?: ProviderName,
): ProviderName[] {
  const remote = BASE_ORDER.filter((p) => configured.includes(p));
  if (remote.length === 0) return configured.includes('local') ? ['local'] : [];
  const first: ProviderName | undefined =
    kind === 'preferred' ? prefer : kind === 'complex' ? 'anthropic' : kind === 'tools' ? 'openai' : undefined;
  const order = first && remote.includes(first) ? [first, ...remote.filter((p) => p !== first)] : [...remote];
  return order;
}
