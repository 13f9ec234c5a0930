/**
 * What a test scripts for one LLM request. The same shape drives the OpenAI
 * (and xAI) mock and the Anthropic mock; each renders it in its own wire
 * format.
 */
import { countTokens } from 'gpt-tokenizer';

export type MockFault =
  /** Plain HTTP error with the provider's error body (optionally Retry-After, in seconds or an HTTP date). */
  | { type: 'status'; status: number; retryAfter?: number | string; message?: string; errorType?: string }
  /** The connection is destroyed before any response byte. */
  | { type: 'reset' }
  /** The stream is cut (socket destroyed) after N content units. */
  | { type: 'cut'; afterTokens: number }
  /** The stream ends cleanly but early: no finish reason, no usage, no terminator. */
  | { type: 'truncate'; afterTokens: number }
  /**
   * Provider overload. Anthropic: HTTP 529 `overloaded_error`, or, with
   * `afterTokens`, an in-stream `event: error`. OpenAI-style: HTTP 503.
   */
  | { type: 'overloaded'; afterTokens?: number };

export interface MockToolCall {
  name: string;
  /** An object (JSON-encoded by the mock) or a raw argument string, sent as-is. */
  arguments: unknown;
  id?: string;
}

export interface MockReply {
  /** Reply text, streamed as word-sized tokens. Ignored when `tokens` is given. */
  text?: string;
  tokens?: string[];
  /** Tool calls the model makes (after any text); the finish reason becomes tool_calls / tool_use. */
  toolCalls?: MockToolCall[];
  /** Delay after the headers before the first content. */
  firstTokenDelayMs?: number;
  /** Delay between content units. */
  tokenDelayMs?: number;
  /**
   * 'relative' (default): each delay runs after the previous unit was written,
   * so a busy mock process drifts slower. 'clock': unit i is due at
   * firstTokenDelayMs + i × tokenDelayMs from the request, and a late unit goes
   * out at once: the rate of a hosted model, which does not slow down when the
   * machine running the mock is busy (OpenAI-wire mock only).
   */
  pacing?: 'relative' | 'clock';
  /** Reported usage; default: counted with gpt-tokenizer. `null`: the mock reports none. */
  usage?: { inputTokens: number; outputTokens: number } | null;
  fault?: MockFault;
  /** Model name echoed back; default: the requested model. */
  model?: string;
}

export interface MockLlmOptions {
  /** Reply when no scripted reply is queued. */
  reply?: MockReply | ((request: import('./mock-http').RecordedRequest, index: number) => MockReply | Promise<MockReply>);
  /** Defaults for replies that leave them unset. */
  tokenDelayMs?: number;
  firstTokenDelayMs?: number;
  /** When set, requests must carry this key (else 401 in the provider's format). */
  apiKey?: string;
  /** How long the server keeps an idle keep-alive connection (default 1000 ms). */
  keepAliveTimeoutMs?: number;
}

/** Shorthands for scripting faults. */
export const faults = {
  status: (status: number, message?: string): MockReply => ({ fault: { type: 'status', status, message } }),
  rateLimited: (retryAfter?: number | string): MockReply => ({ fault: { type: 'status', status: 429, retryAfter, message: 'Rate limit reached' } }),
  overloaded: (afterTokens?: number, text = 'Partial answer that will be cut short'): MockReply => ({ text, fault: { type: 'overloaded', afterTokens } }),
  reset: (): MockReply => ({ fault: { type: 'reset' } }),
  cut: (text: string, afterTokens: number): MockReply => ({ text, fault: { type: 'cut', afterTokens } }),
  truncate: (text: string, afterTokens: number): MockReply => ({ text, fault: { type: 'truncate', afterTokens } }),
  slowFirstToken: (ms: number, text = 'Too late.'): MockReply => ({ text, firstTokenDelayMs: ms }),
};

/** The text the mock counts as "input" when computing default usage. */
export function defaultInputTokens(body: any): number {
  const parts: string[] = [];
  if (typeof body?.system === 'string') parts.push(body.system);
  for (const m of Array.isArray(body?.messages) ? body.messages : []) {
    parts.push(typeof m?.content === 'string' ? m.content : JSON.stringify(m?.content ?? ''));
  }
  return Math.max(1, countTokens(parts.join('\n')));
}

export function argumentsText(args: unknown): string {
  return typeof args === 'string' ? args : JSON.stringify(args ?? {});
}

export function defaultOutputTokens(text: string, toolCalls: MockToolCall[]): number {
  return countTokens(text + toolCalls.map((c) => c.name + argumentsText(c.arguments)).join(''));
}

export function retryAfterHeader(fault: MockFault): Record<string, string> {
  return fault.type === 'status' && fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
}
