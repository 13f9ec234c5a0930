/**
 * Which provider failures are worth another try, and how long to wait.
 *
 * Retried on the same provider (with backoff): 429, 408, 409, 5xx, 529,
 * overload / server errors reported inside the stream, connection errors
 * (reset, refused, cut before the first token), a stream that ended without
 * finishing. Not retried on the same provider but failed over: the
 * time-to-first-token timeout (waiting again would double the latency) and
 * every other error (401/403/404/400…), since another provider may well
 * accept the request. Aborts by the caller are not failures at all.
 */
import { APIConnectionError as AnthropicConnectionError, APIError as AnthropicAPIError } from '@anthropic-ai/sdk';
import { APIConnectionError as OpenAIConnectionError, APIError as OpenAIAPIError } from 'openai';

export type FailureKind =
  | 'rate_limited'
  | 'server_error'
  | 'overloaded'
  | 'connection'
  | 'truncated'
  | 'first_token_timeout'
  | 'stalled'
  | 'auth'
  | 'bad_request'
  | 'other';

export interface Failure {
  kind: FailureKind;
  /** Retry on the same provider (after backoff). */
  retrySame: boolean;
  status?: number;
  /** Server-requested wait (Retry-After / retry-after-ms), uncapped. */
  retryAfterMs?: number;
  message: string;
}

/** Marks the router's own timer aborts, so they are told apart from the caller's abort. */
export class RouterTimeout extends Error {
  constructor(readonly kind: 'first_token_timeout' | 'stalled') {
    super(kind === 'first_token_timeout' ? 'no first token in time' : 'stream stalled');
    this.name = 'RouterTimeout';
  }
}

/** The failure of an attempt that produced no result. `timer` is the router's own abort reason, if it fired. */
export function classifyFailure(err: unknown, timer?: RouterTimeout, now = Date.now()): Failure {
  if (timer) return { kind: timer.kind, retrySame: false, message: timer.message };
  if (err instanceof TruncatedStream) return { kind: 'truncated', retrySame: true, message: err.message };
  if (err instanceof OpenAIAPIError || err instanceof AnthropicAPIError) {
    const status = err.status;
    const message = err.message.slice(0, 300);
    if (status === undefined) {
      // No status: a connection failure, or an error event inside a 200 stream.
      if (err instanceof OpenAIConnectionError || err instanceof AnthropicConnectionError) return { kind: 'connection', retrySame: true, message };
      const type = streamErrorType(err);
      if (type === 'invalid_request_error') return { kind: 'bad_request', retrySame: false, message };
      if (type === 'rate_limit_error') return { kind: 'rate_limited', retrySame: true, message };
      return { kind: type === 'overloaded_error' ? 'overloaded' : 'server_error', retrySame: true, message };
    }
    const retryAfterMs = parseRetryAfter(err.headers, now);
    const base = { status, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    if (status === 429) return { kind: 'rate_limited', retrySame: true, ...base };
    if (status === 529) return { kind: 'overloaded', retrySame: true, ...base };
    if (status >= 500 || status === 408 || status === 409) return { kind: 'server_error', retrySame: true, ...base };
    if (status === 401 || status === 403) return { kind: 'auth', retrySame: false, ...base };
    return { kind: status === 400 || status === 422 ? 'bad_request' : 'other', retrySame: false, ...base };
  }
  // fetch's TypeError('terminated' / 'fetch failed'), socket errors: the connection broke.
  const message = err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''}` : String(err);
  return { kind: 'connection', retrySame: true, message: message.slice(0, 300) };
}

function streamErrorType(err: { error?: unknown; type?: unknown }): string | undefined {
  const body = err.error as { type?: unknown; error?: { type?: unknown } } | undefined;
  const t = (typeof err.type === 'string' ? err.type : undefined) ?? body?.error?.type ?? body?.type;
  return typeof t === 'string' ? t : undefined;
}

/** A stream that ended without the provider saying it was finished. */
export class TruncatedStream extends Error {
  constructor() {
    super('stream ended before the provider finished the answer');
    this.name = 'TruncatedStream';
  }
}

/** `retry-after-ms` (ms), else `retry-after` in seconds or as an HTTP date. */
export function parseRetryAfter(headers: Headers | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') !== null && Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers.get('retry-after');
  if (raw === null || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with full jitter in [base·2^n / 2, base·2^n], capped at maxMs. */
export function backoffDelay(retry: number, options: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** retry);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * How long to wait before retrying the same provider, or `undefined` to fail
 * over now: a Retry-After beyond the cap means "not soon" — another provider
 * serves the user faster (when there is one; otherwise wait the cap).
 */
export function retryDelay(failure: Failure, retry: number, options: { baseMs: number; maxMs: number; maxRetryAfterMs: number; hasNext: boolean }, random?: () => number): number | undefined {
  const backoff = backoffDelay(retry, options, random);
  if (failure.retryAfterMs === undefined) return backoff;
  if (failure.retryAfterMs > options.maxRetryAfterMs) return options.hasNext ? undefined : options.maxRetryAfterMs;
  return Math.max(failure.retryAfterMs, Math.min(backoff, options.maxRetryAfterMs));
}
