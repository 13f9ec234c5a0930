/**
 * The tools the model may call. Their executors come from the caller (which
 * runs them under the user's row-level security); this file only describes
 * them to the providers, validates the model's arguments and turns results
 * or failures into tool-result text. A failing tool never fails the answer:
 * the model gets `{"error": …}` and explains.
 */
import { z } from 'zod';
import { symbolSchema } from '../../common/symbols';

export type ToolName = 'get_signal' | 'get_win_rate' | 'list_my_symbols';

export interface ToolExecutors {
  get_signal?: (args: { symbol: string }, signal: AbortSignal) => Promise<unknown>;
  get_win_rate?: (args: { symbol: string }, signal: AbortSignal) => Promise<unknown>;
  list_my_symbols?: (args: Record<string, never>, signal: AbortSignal) => Promise<unknown>;
}

export interface ToolSpec {
  name: ToolName;
  description: string;
  /** JSON Schema of the arguments (OpenAI `parameters`, Anthropic `input_schema`). */
  parameters: { type: 'object'; properties: Record<string, unknown>; required: string[]; additionalProperties: false };
}

export interface ToolCallReport {
  name: string;
  args: unknown;
  ok: boolean;
  error?: string;
}

const symbolParam = { symbol: { type: 'string', description: 'Trading pair, e.g. BTC/USDT' } };

export const TOOL_SPECS: readonly ToolSpec[] = [
  {
    name: 'get_signal',
    description: 'Latest trading signal for a pair: direction, score 0-100, entry, stop, take-profit, volatility regime.',
    parameters: { type: 'object', properties: symbolParam, required: ['symbol'], additionalProperties: false },
  },
  {
    name: 'get_win_rate',
    description: "Win rate of Zmarty's past signals for a pair over 7d, 30d and all time, with trade counts.",
    parameters: { type: 'object', properties: symbolParam, required: ['symbol'], additionalProperties: false },
  },
  {
    name: 'list_my_symbols',
    description: 'The pairs and timeframes the user follows.',
    parameters: { type: 'object', properties: {}, required: [], additionalProperties: false },
  },
];

/** Specs of the tools that have an executor. */
export function toolSpecsFor(executors: ToolExecutors | undefined): ToolSpec[] {
  if (!executors) return [];
  return TOOL_SPECS.filter((t) => typeof executors[t.name] === 'function');
}

// Models often say "BTC" for BTC/USDT; the quote defaults to USDT.
const symbolArg = z.object({
  symbol: z
    .string()
    .trim()
    .transform((s) => (s.includes('/') ? s : `${s}/USDT`))
    .pipe(symbolSchema),
});
const argSchemas = { get_signal: symbolArg, get_win_rate: symbolArg, list_my_symbols: z.object({}).strip() } as const;

/** Longest tool result handed back to the model (characters). */
export const MAX_TOOL_RESULT_CHARS = 4000;

export async function runToolCall(
  executors: ToolExecutors | undefined,
  name: string,
  rawArgs: string | unknown,
  signal: AbortSignal,
): Promise<{ content: string; isError: boolean; report: ToolCallReport }> {
  let args: unknown = rawArgs;
  const fail = (error: string) => ({ content: JSON.stringify({ error }), isError: true, report: { name, args, ok: false, error } });
  if (typeof rawArgs === 'string') {
    try {
      args = rawArgs.trim() === '' ? {} : JSON.parse(rawArgs);
    } catch {
      return fail('arguments are not valid JSON');
    }
  }
  if (!(name in argSchemas)) return fail(`unknown tool ${name}`);
  const toolName = name as ToolName;
  const executor = executors?.[toolName] as ((a: unknown, s: AbortSignal) => Promise<unknown>) | undefined;
  if (!executor) return fail(`tool ${name} is not available`);
  const parsed = argSchemas[toolName].safeParse(args ?? {});
  if (!parsed.success) return fail(`invalid arguments: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  try {
    const result = await executor(parsed.data, signal);
    let content = JSON.stringify(result ?? null);
    if (content.length > MAX_TOOL_RESULT_CHARS) content = `${content.slice(0, MAX_TOOL_RESULT_CHARS)}…(truncated)`;
    return { content, isError: false, report: { name, args: parsed.data, ok: true } };
  } catch (err) {
    // The message may come from our own code (AppError); never pass stack traces to the model.
    return fail(err instanceof Error ? err.message.slice(0, 200) : 'tool failed');
  }
}
