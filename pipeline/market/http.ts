/**
 * The one way the market clients talk HTTP: a timeout on every call, transport
 * failures turned into `provider_unavailable`, and the body read once as text
 * so a non-JSON error page is reported instead of crashing the parser.
 */
import { AppError } from '../../common/errors';

export type FetchLike = typeof fetch;

export interface HttpResult {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined when the body was empty or not JSON. */
  json: unknown;
  text: string;
}

export async function requestJson(
  provider: string,
  url: string,
  init: RequestInit & { fetch?: FetchLike; timeoutMs: number; describe?: string },
): Promise<HttpResult> {
  const { fetch: fetchImpl = fetch, timeoutMs, describe, ...rest } = init;
  let res: Response;
  try {
    res = await fetchImpl(url, { ...rest, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const reason = err instanceof Error && err.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : errorText(err);
    throw new AppError('provider_unavailable', `${provider}: ${describe ?? 'request'} failed: ${reason}`, { cause: err });
  }
  const text = await res.text().catch(() => '');
  let json: unknown;
  if (text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, json, text };
}

/**
 * Retry-After as milliseconds (delta-seconds or HTTP date), or null. Exchanges
 * send it on 429/418; every worker then leaves that provider alone for that
 * long (market-pauses.ts).
 */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : null;
}

/** A throttled provider error carries Retry-After (in seconds) like an HTTP response would. */
export function throttledError(provider: string, status: number, retryAfterMs: number | null, detail: string): AppError {
  const headers: Record<string, string> = retryAfterMs === null ? {} : { 'Retry-After': String(Math.ceil(retryAfterMs / 1000)) };
  const wait = retryAfterMs === null ? '' : `; retry after ${Math.ceil(retryAfterMs / 1000)} s`;
  const throttled: Throttled = { provider, status, retryAfterMs };
  return new AppError('provider_unavailable', `${provider}: rate limited (HTTP ${status})${wait}${detail ? `: ${detail}` : ''}`, {
    headers,
    details: { throttled },
  });
}

/** A provider told us to slow down (HTTP 429, or 418: banned for ignoring 429s), and how long to wait if it said. */
export interface Throttled {
  provider: string;
  status: number;
  retryAfterMs: number | null;
}

/** What a throttled error thrown by this layer says, or null for any other error. */
export function throttleOf(err: unknown): Throttled | null {
  return err instanceof AppError ? ((err.details.throttled as Throttled | undefined) ?? null) : null;
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}

/** A short, single-line excerpt of a body for error messages. */
export function excerpt(text: string, max = 200): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine;
}
