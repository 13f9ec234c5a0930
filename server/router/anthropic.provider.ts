/**
 * Anthropic Messages adapter (Claude). Streams raw events: usage.input_tokens
 * from message_start, text_delta / input_json_delta content, stop_reason and
 * the running output_tokens total from message_delta, then message_stop.
 * Tool loop: tool_use blocks → executors → a user turn of tool_result blocks.
 * Overload reported inside the stream (`event: error`) surfaces from the SDK
 * as an APIError without status and is classified by retry-policy.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { ProviderAdapter, ProviderOutcome, ProviderTurn } from './router.types';
import { runToolCall, toolSpecsFor, type ToolCallReport } from './tools';
import { createUsageMeter, estimatePromptTokens } from './usage-meter';
import { TruncatedStream } from './retry-policy';

export interface AnthropicOptions {
  apiKey: string;
  /** Without /v1 (https://api.anthropic.com). */
  baseURL: string;
  model: string;
  requestTimeoutMs?: number;
}

type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; json: string };

export function createAnthropicProvider(options: AnthropicOptions): ProviderAdapter {
  const client = new Anthropic({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    maxRetries: 0,
    timeout: options.requestTimeoutMs ?? 120_000,
    openTelemetry: false,
  });

  return {
    name: 'anthropic',
    model: options.model,
    run: async (turn: ProviderTurn): Promise<ProviderOutcome> => {
      const meter = createUsageMeter();
      const toolCalls: ToolCallReport[] = [];
      const tools = toolSpecsFor(turn.tools).map((s) => ({ name: s.name, description: s.description, input_schema: s.parameters }));
      const messages: Anthropic.MessageParam[] = turn.messages.map((m) => ({ role: m.role, content: m.content }));
      let text = '';
      const outcome = (finished: boolean, error?: unknown): ProviderOutcome => ({ text, usage: meter.total(), finished, error, toolCalls });

      try {
        for (let round = 0; ; round++) {
          const lastRound = round >= turn.maxToolRounds;
          if (round > 0) await turn.beforeNextRound?.();
          // Counted only if the provider never reports the input (a stream cut before message_start); the snapshot is this round's messages.
          const sent = messages.slice();
          meter.startRound(() => estimatePromptTokens({ system: turn.system, messages: sent, tools: tools.length > 0 ? tools : undefined }));
          turn.onRequestStart();
          const stream = await client.messages.create(
            {
              model: options.model,
              max_tokens: turn.maxOutputTokens,
              system: turn.system,
              messages,
              stream: true,
              ...(tools.length > 0 ? { tools, tool_choice: lastRound ? { type: 'none' as const } : { type: 'auto' as const } } : {}),
            },
            { signal: turn.signal },
          );
          const blocks = new Map<number, Block>();
          let stopReason: string | null = null;
          let stopped = false;
          for await (const event of stream) {
            switch (event.type) {
              case 'message_start': {
                const u = event.message.usage;
                // Cache reads/writes are input too (priced alike here; see pricing.ts).
                meter.reportInput(u.input_tokens + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0));
                break;
              }
              case 'content_block_start':
                if (event.content_block.type === 'text') blocks.set(event.index, { type: 'text', text: '' });
                else if (event.content_block.type === 'tool_use') {
                  turn.onActivity();
                  meter.addOutput(event.content_block.name);
                  blocks.set(event.index, { type: 'tool_use', id: event.content_block.id, name: event.content_block.name, json: '' });
                }
                break;
              case 'content_block_delta': {
                const block = blocks.get(event.index);
                if (event.delta.type === 'text_delta' && event.delta.text) {
                  turn.onActivity();
                  meter.addOutput(event.delta.text);
                  if (block?.type === 'text') block.text += event.delta.text;
                  text += event.delta.text;
                  turn.onToken(event.delta.text);
                } else if (event.delta.type === 'input_json_delta') {
                  turn.onActivity();
                  meter.addOutput(event.delta.partial_json);
                  if (block?.type === 'tool_use') block.json += event.delta.partial_json;
                }
                break;
              }
              case 'message_delta':
                stopReason = event.delta.stop_reason ?? stopReason;
                if (typeof event.usage.output_tokens === 'number') meter.reportOutput(event.usage.output_tokens);
                break;
              case 'message_stop':
                stopped = true;
                break;
            }
          }
          if (turn.signal.aborted) return outcome(false);
          if (!stopped) return outcome(false, new TruncatedStream());
          const uses = [...blocks.entries()].sort(([a], [b]) => a - b).map(([, b]) => b);
          const toolUses = uses.filter((b): b is Extract<Block, { type: 'tool_use' }> => b.type === 'tool_use');
          if (stopReason !== 'tool_use' || toolUses.length === 0 || lastRound) return outcome(true);

          messages.push({
            role: 'assistant',
            // Empty text blocks are rejected by the API.
            content: uses.filter((b) => b.type !== 'text' || b.text.length > 0).map((b) =>
              b.type === 'text' ? { type: 'text' as const, text: b.text } : { type: 'tool_use' as const, id: b.id, name: b.name, input: parseInput(b.json) },
            ),
          });
          const results: Anthropic.ToolResultBlockParam[] = [];
          for (const b of toolUses) {
            const result = await runToolCall(turn.tools, b.name, b.json, turn.signal);
            toolCalls.push(result.report);
            results.push({ type: 'tool_result', tool_use_id: b.id, content: result.content, ...(result.isError ? { is_error: true } : {}) });
          }
          messages.push({ role: 'user', content: results });
          if (turn.signal.aborted) return outcome(false);
        }
      } catch (err) {
        return outcome(false, err);
      }
    },
  };
}

function parseInput(json: string): Record<string, unknown> {
  try {
    const v = json.trim() === '' ? {} : JSON.parse(json);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}
