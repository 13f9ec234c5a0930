import { z } from 'zod';
import { SYMBOL_PATTERN, timeframeSchema } from '../../common/symbols';
import { safeText } from '../../common/text';

/**
 * The body of a Supabase Database Webhook on public.user_symbols
 * (`{type, table, schema, record, old_record}`), which is also exactly what
 * the outbox trigger writes. Unknown columns (created_at …) are ignored.
 */
export const userSymbolRowSchema = z.object({
  id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  user_id: z.uuid(),
  symbol: z.string().regex(SYMBOL_PATTERN, 'symbol must look like BTC/USDT'),
  timeframe: timeframeSchema,
});
export type UserSymbolRow = z.infer<typeof userSymbolRowSchema>;

const source = { table: z.literal('user_symbols'), schema: z.literal('public') };

export const watchersWebhookPayloadSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('INSERT'), ...source, record: userSymbolRowSchema, old_record: z.null().optional() }),
  // old_record is informative only: the receiver trusts its own stored state
  // for "where the subscription was", which also heals a lost earlier event.
  z.object({ type: z.literal('UPDATE'), ...source, record: userSymbolRowSchema, old_record: userSymbolRowSchema.nullish() }),
  z.object({ type: z.literal('DELETE'), ...source, record: z.null().optional(), old_record: userSymbolRowSchema }),
]);
export type WatchersWebhookPayload = z.infer<typeof watchersWebhookPayloadSchema>;

/** Sent as x-webhook-id; the replay-protection key (webhook_events.event_id). */
export const webhookEventIdSchema = safeText().trim().min(1).max(200);
