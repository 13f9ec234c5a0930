import type { Db } from '../../common/db';
import { AppError, toErrorBody } from '../../common/errors';
import { payloadTooLarge } from '../http/body-limit';
import { affectedWatchers, checkTimestampAge, parseTimestampHeader, subscriptionAfter, type WatcherKey } from './watchers-sync.logic';
import { watchersUpsertQueries as queries, type WatcherCount } from './watchers-upsert.queries';
import { watchersWebhookPayloadSchema, webhookEventIdSchema, type WatchersWebhookPayload } from './watchers-upsert.schema';
import { importWebhookKey, verifyWebhookSignature, WEBHOOK_HEADERS } from './webhook.signature';

/** The subset of pino this file uses; kept structural so the file has no Node-only import (see docs/WATCHERS_SYNC.md, Edge Function). */
export interface HandlerLog {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface WatchersUpsertHandlerOptions {
  /** Only `tx` is used: a Deno deployment passes a small adapter over its own Postgres client. */
  tradingDb: Pick<Db, 'tx'>;
  secret: string;
  /** Oldest (and furthest-future) accepted x-webhook-timestamp, in ms from now. */
  toleranceMs?: number;
  now?: () => number;
  /** Called after commit for each watcher that went from no subscribers (or no row) to some. */
  onWatcherActivated?: (watcher: WatcherKey) => void | Promise<void>;
  log?: HandlerLog;
  maxBodyBytes?: number;
}

export interface WatchersUpsertResult {
  ok: true;
  /** True when the event id was seen before: a replay is acknowledged (200) and changes nothing. */
  duplicate: boolean;
  watchers: WatcherCount[];
}

/**
 * The `watchers-upsert` function: a Web-standard handler (Request → Response)
 * that applies one signed user_symbols change to the trading database.
 *
 * Replays answer 200 `{ok:true, duplicate:true}` rather than 409: a sender
 * whose acknowledgement was lost must be able to retry to success, and the
 * event was, in effect, delivered.
 */
export function createWatchersUpsertHandler({
  tradingDb,
  secret,
  toleranceMs = 1000,
  now = Date.now,
  onWatcherActivated,
  log,
  maxBodyBytes = 64 * 1024,
}: WatchersUpsertHandlerOptions): (request: Request) => Promise<Response> {
  const key = importWebhookKey(secret);

  async function authenticate(request: Request): Promise<Uint8Array> {
    if (request.method !== 'POST') throw new AppError('method_not_allowed', 'Use POST', { headers: { allow: 'POST' } });
    const signature = request.headers.get(WEBHOOK_HEADERS.signature);
    if (!signature) throw new AppError('webhook_signature_missing', `The ${WEBHOOK_HEADERS.signature} header is missing`);
    const timestampHeader = request.headers.get(WEBHOOK_HEADERS.timestamp);
    const timestamp = parseTimestampHeader(timestampHeader);
    if (timestamp === null) {
      throw new AppError('webhook_timestamp_invalid', `The ${WEBHOOK_HEADERS.timestamp} header must be unix milliseconds`);
    }
    const body = await readBody(request, maxBodyBytes);
    if (!(await verifyWebhookSignature(await key, timestampHeader!, body, signature))) {
      throw new AppError('webhook_signature_invalid', 'The signature does not match the body and timestamp');
    }
    // Checked after the signature, so only a genuine sender learns about clock skew.
    const age = checkTimestampAge(timestamp, now(), toleranceMs);
    if (age !== 'ok') {
      throw new AppError('webhook_timestamp_expired', `The request timestamp is ${age === 'too_old' ? 'too old' : 'in the future'} (tolerance ${toleranceMs} ms)`);
    }
    return body;
  }

  function parse(request: Request, body: Uint8Array): { eventId: string; payload: WatchersWebhookPayload } {
    const eventId = webhookEventIdSchema.safeParse(request.headers.get(WEBHOOK_HEADERS.id) ?? '');
    if (!eventId.success) throw new AppError('validation_failed', `The ${WEBHOOK_HEADERS.id} header must be 1-200 characters, none of them control characters`);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch {
      throw new AppError('bad_request', 'The request body is not valid JSON');
    }
    const payload = watchersWebhookPayloadSchema.safeParse(json);
    if (!payload.success) {
      const issue = payload.error.issues[0];
      throw new AppError('validation_failed', `Invalid webhook payload: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
    }
    return { eventId: eventId.data, payload: payload.data };
  }

  /** One transaction: replay check, the subscription's new state, recounts. */
  function apply(eventId: string, payload: WatchersWebhookPayload) {
    return tradingDb.tx(async (q) => {
      if (!(await queries.claimEvent(q, eventId))) return { duplicate: true, watchers: [], activated: [] };
      const { sourceId, next } = subscriptionAfter(payload);
      await queries.lockSource(q, sourceId);
      const stored = await queries.storedSubscription(q, sourceId);
      const keys = affectedWatchers(stored, next);
      const before: number[] = [];
      for (const k of keys) before.push(await queries.lockWatcher(q, k));
      if (next) await queries.upsertSubscription(q, sourceId, next);
      else if (stored) await queries.deleteSubscription(q, sourceId);
      const watchers: WatcherCount[] = [];
      for (const k of keys) watchers.push(await queries.recountWatcher(q, k));
      const activated = watchers.filter((w, i) => before[i] === 0 && w.subscribers > 0);
      return { duplicate: false, watchers, activated };
    });
  }

  return async function handleWatchersUpsert(request: Request): Promise<Response> {
    try {
      const body = await authenticate(request);
      const { eventId, payload } = parse(request, body);
      const { duplicate, watchers, activated } = await apply(eventId, payload);
      log?.info({ eventId, type: payload.type, sourceId: subscriptionAfter(payload).sourceId, duplicate, watchers }, 'watchers webhook applied');
      for (const w of activated) {
        // After commit and never failing the request: the change is stored, and a
        // retry would be a replay that could not call this again anyway.
        try {
          await onWatcherActivated?.({ symbol: w.symbol, timeframe: w.timeframe });
        } catch (err) {
          log?.error({ err, symbol: w.symbol, timeframe: w.timeframe }, 'onWatcherActivated failed');
        }
      }
      const result: WatchersUpsertResult = { ok: true, duplicate, watchers };
      return Response.json(result);
    } catch (err) {
      if (!(err instanceof AppError)) log?.error({ err }, 'watchers webhook failed');
      const { status, body, headers } = toErrorBody(err);
      return Response.json(body, { status, headers });
    }
  };
}

async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw payloadTooLarge(maxBytes);
  const body = new Uint8Array(await request.arrayBuffer());
  if (body.length > maxBytes) throw payloadTooLarge(maxBytes);
  return body;
}
