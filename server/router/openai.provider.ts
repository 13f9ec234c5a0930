/**
 * OpenAI Chat Completions adapter, for OpenAI itself and for xAI Grok (same
 * wire format, `baseURL` https://api.x.ai/v1). Streams with
 * `stream_options.include_usage` so the last chunk carries exact usage, and
 * runs the tool-call loop: accumulate `tool_calls` deltas by index, execute,
 * append `tool` messages, ask again. SDK retries are off (`maxRetries: 0`):
 * the router's policy is the only one.
 */
import OpenAI from 'openai';
import type { ProviderAdapter, ProviderOutcome, ProviderTurn } from './router.types';
import { runToolCall, toolSpecsFor, type ToolCallReport } from './tools';
import { createUsageMeter, estimatePromptTokens } from './usage-meter';
import { TruncatedStream } from './retry-policy';
import { readChatCompletionStream, type ChatCompletionChunk } from './openai.sse';
import { createNodeFetch } from './openai.transport';

export interface OpenAIStyleOptions {
  name: 'xai' | 'openai';
  apiKey: string;
  /** Must include /v1 (https://api.openai.com/v1, https://api.x.ai/v1). */
  baseURL: string;
  model: string;
  /** Overall request timeout of the SDK; the router's own timers are shorter. */
  requestTimeoutMs?: number;
  /** The SDK's HTTP transport; default: our node:http one (openai.transport.ts). The bench passes the global fetch to compare. */
  fetch?: typeof fetch;
}

type Message = OpenAI.Chat.ChatCompletionMessageParam;

export function createOpenAIStyleProvider(options: OpenAIStyleOptions): ProviderAdapter {
  const client = new OpenAI({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    maxRetries: 0,
    timeout: options.requestTimeoutMs ?? 120_000,
    // node:http under the SDK instead of undici's fetch: cheaper per token, and its streams are read without a web stream (openai.transport.ts).
    fetch: options.fetch ?? createNodeFetch(),
  });
  // OpenAI's newer models reject max_tokens; xAI documents max_tokens.
  const maxTokensKey = options.name === 'openai' ? 'max_completion_tokens' : 'max_tokens';

  return {
    name: options.name,
    model: options.model,
    run: async (turn: ProviderTurn): Promise<ProviderOutcome> => {
      const meter = createUsageMeter();
      const toolCalls: ToolCallReport[] = [];
      const specs = toolSpecsFor(turn.tools);
      const tools = specs.map((s) => ({ type: 'function' as const, function: { name: s.name, description: s.description, parameters: s.parameters } }));
      const messages: Message[] = [{ role: 'system', content: turn.system }, ...turn.messages.map((m) => ({ role: m.role, content: m.content }))];
      let text = '';
      const outcome = (finished: boolean, error?: unknown): ProviderOutcome => ({ text, usage: meter.total(), finished, error, toolCalls });

      try {
        for (let round = 0; ; round++) {
          const lastRound = round >= turn.maxToolRounds;
          if (round > 0) await turn.beforeNextRound?.();
          // Counted only if the provider does not report the input (an aborted stream): the snapshot is this round's messages.
          const sent = messages.slice();
          meter.startRound(() => estimatePromptTokens({ messages: sent, tools: tools.length > 0 ? tools : undefined }));
          turn.onRequestStart();
          // The SDK makes the request and maps a failed status to its APIError; the body is read by readChatCompletionStream (why: see openai.sse.ts).
          const response = await client.chat.completions
            .create(
              {
                model: options.model,
                messages,
                stream: true,
                stream_options: { include_usage: true },
                [maxTokensKey]: turn.maxOutputTokens,
                ...(tools.length > 0 ? { tools, tool_choice: lastRound ? ('none' as const) : ('auto' as const) } : {}),
              },
              { signal: turn.signal },
            )
            .asResponse();
          const calls = new Map<number, { id: string; name: string; args: string }>();
          let roundText = '';
          let finish: string | null = null;
          const onChunk = (chunk: ChatCompletionChunk) => {
            if (chunk.usage) {
              meter.reportInput(chunk.usage.prompt_tokens);
              meter.reportOutput(chunk.usage.completion_tokens);
            }
            const choice = chunk.choices?.[0];
            if (!choice) return;
            const content = choice.delta?.content;
            if (content) {
              turn.onActivity();
              meter.addOutput(content);
              roundText += content;
              text += content;
              turn.onToken(content);
            }
            const deltas = choice.delta?.tool_calls;
            if (deltas) {
              for (const d of deltas) {
                turn.onActivity();
                const call = calls.get(d.index) ?? { id: '', name: '', args: '' };
                if (d.id) call.id = d.id;
                if (d.function?.name) call.name += d.function.name;
                if (d.function?.arguments) call.args += d.function.arguments;
                meter.addOutput((d.function?.name ?? '') + (d.function?.arguments ?? ''));
                calls.set(d.index, call);
              }
            }
            if (choice.finish_reason) finish = choice.finish_reason;
          };
          try {
            await readChatCompletionStream(response, onChunk);
          } catch (err) {
            // An abort (the caller, or the router's timers) ends the round quietly; the router reads the signal's reason.
            if (!turn.signal.aborted) throw err;
          }
          if (turn.signal.aborted) return outcome(false);
          if (finish === null) return outcome(false, new TruncatedStream());
          if (finish !== 'tool_calls' || calls.size === 0 || lastRound) return outcome(true);

          const ordered = [...calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
          messages.push({
            role: 'assistant',
            content: roundText.length > 0 ? roundText : null,
            tool_calls: ordered.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } })),
          });
          for (const c of ordered) {
            const result = await runToolCall(turn.tools, c.name, c.args, turn.signal);
            toolCalls.push(result.report);
            messages.push({ role: 'tool', tool_call_id: c.id, content: result.content });
          }
          if (turn.signal.aborted) return outcome(false);
        }
      } catch (err) {
        return outcome(false, err);
      }
    },
  };
}
