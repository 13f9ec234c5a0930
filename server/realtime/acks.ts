import type { z } from 'zod';
import { AppError, toErrorBody } from '../../common/errors';
import type { Ack } from '../../common/events';

/** Validates a socket payload; a bad one becomes a `validation_failed` AppError naming the first problem. */
export function parsePayload<T>(schema: z.ZodType<T>, payload: unknown): T {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError('validation_failed', `${issue?.path.join('.') || 'payload'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** The `{ok:false}` ack for anything thrown; unknown errors are sent as `internal`, never their text. */
export function ackFailure(err: unknown): Ack<never> {
  return { ok: false, error: toErrorBody(err).body.error };
}
