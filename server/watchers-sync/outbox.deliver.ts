import { importWebhookKey, signWebhook, WEBHOOK_HEADERS } from './webhook.signature';

/** One row of public.watchers_outbox, as the relay hands it to `deliver`. */
export interface OutboxEvent {
  /** Outbox row id: the delivery order. */
  id: number;
  /** uuid, sent as x-webhook-id (the receiver's replay-protection key). */
  eventId: string;
  /** The Supabase Database Webhook payload, exactly as the trigger wrote it. */
  payload: Record<string, unknown>;
  createdAt: Date;
  /** Attempts made before this one (persisted across restarts). */
  attempts: number;
}

/** Resolves once the receiver acknowledged the event (2xx); throws otherwise, and the relay retries. */
export type DeliverEvent = (event: OutboxEvent, options?: { signal?: AbortSignal }) => Promise<void>;

export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface HttpDeliverOptions {
  url: string;
  secret: string;
  fetch?: typeof globalThis.fetch;
  /** Per attempt; a hung receiver must not stall the outbox forever. */
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Signs and POSTs one event to the watchers-upsert function. The timestamp
 * (and so the signature) is fresh on every attempt: a retry after minutes of
 * downtime must still pass the receiver's tolerance, while the unchanged
 * x-webhook-id keeps the retry idempotent.
 */
export function createHttpDeliver({ url, secret, fetch = globalThis.fetch, timeoutMs = 10_000, now = Date.now }: HttpDeliverOptions): DeliverEvent {
  const key = importWebhookKey(secret);
  return async (event, { signal } = {}) => {
    const body = JSON.stringify(event.payload);
    const timestamp = String(now());
    const signature = await signWebhook(await key, timestamp, body);
    const timeout = AbortSignal.timeout(timeoutMs);
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [WEBHOOK_HEADERS.id]: event.eventId,
        [WEBHOOK_HEADERS.timestamp]: timestamp,
        [WEBHOOK_HEADERS.signature]: signature,
      },
      body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    // Read the body either way so the connection can be reused.
    const text = await response.text().catch(() => '');
    if (!response.ok) throw new DeliveryError(response.status, `watchers-upsert answered ${response.status}: ${text.slice(0, 300)}`);
  };
}
