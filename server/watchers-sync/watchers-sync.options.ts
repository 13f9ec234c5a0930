import { z } from 'zod';

/**
 * The settings of the watchers sync, for the lead to merge into
 * common/env.ts's envSchema (`...watchersSyncEnvShape`) and wire in
 * server/main.ts. Defaults are the product's; see docs/WATCHERS_SYNC.md.
 */
export const watchersSyncEnvShape = {
  /** HMAC key shared by the relay (signing) and the watchers-upsert function (verifying). Embedded default: secrets.json's webhookSecret. */
  WEBHOOK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** How old (or how far in the future) a signed request may be. */
  WEBHOOK_TOLERANCE_MS: z.coerce.number().int().min(100).max(300_000).default(1000),
  /** Where the relay POSTs events. Default: this server's own /functions/v1/watchers-upsert; a Supabase Edge Function URL otherwise. */
  WATCHERS_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Poll fallback of the outbox relay (notifications make delivery immediate). */
  WATCHERS_RELAY_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
};
