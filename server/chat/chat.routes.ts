import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { AppError } from '../../common/errors';
import { issueText } from '../../common/text';
import type { ChatDoneEvent, ChatErrorEvent } from '../../common/events';
import { readJson } from '../http/read-json';
import type { AuthedEnv } from '../http/types';
import type { ChatSink, LiveAnswer } from './answer-registry';
import type { ChatService } from './chat.service';
import { chatMessageSchema, conversationIdSchema } from './chat.socket';

const bodySchema = z.object({
  message: chatMessageSchema,
  voice: z.boolean().optional().default(false),
  conversationId: conversationIdSchema.optional(),
});
const idempotencyKey = z.string().trim().min(1).max(100).regex(/^[\w.:-]+$/);

/**
 * `POST /chat`, the REST fallback: the same service and charging as the
 * socket. `Accept: text/event-stream` streams SSE events `token`, `done`,
 * `error`; otherwise the whole answer comes back as JSON. A client that goes
 * away aborts the answer (and pays only for what was delivered).
 */
export function createChatRoutes(deps: { chat: ChatService }) {
  const app = new Hono<AuthedEnv>();

  app.post('/', async (c) => {
    const parsed = bodySchema.safeParse(await readJson(c.req.raw));
    if (!parsed.success) throw new AppError('validation_failed', issueText(parsed.error.issues[0], 'invalid chat request'));
    const key = c.req.header('idempotency-key');
    if (key !== undefined && !idempotencyKey.safeParse(key).success) throw new AppError('bad_request', 'Idempotency-Key must be 1–100 characters of letters, digits and . _ : -');
    const id = key ?? `rest-${randomUUID()}`;
    const user = c.var.user;

    if ((c.req.header('accept') ?? '').includes('text/event-stream')) {
      const queue: Array<{ event: string; data: unknown }> = [];
      let wake: (() => void) | undefined;
      const push = (event: string, data: unknown) => {
        queue.push({ event, data });
        wake?.();
      };
      let finished = false;
      const sink: ChatSink = {
        token: (e) => push('token', e),
        audio: () => undefined, // audio needs binary frames: socket only
        error: (e) => push('error', e),
        done: (e) => {
          push('done', e);
          finished = true;
          wake?.();
        },
      };
      const started = await deps.chat.start({ user, id, message: parsed.data.message, voice: false, conversationId: parsed.data.conversationId, sink });
      const { answer } = started;
      abortWhenGone(c.req.raw.signal, answer);
      // An answer that failed after it started (its settlement could not be stored) sends its error but no done: end the stream.
      started.finished.catch(() => {
        finished = true;
        wake?.();
      });
      return streamSSE(c, async (stream) => {
        stream.onAbort(() => answer.abort.abort());
        for (;;) {
          while (queue.length) {
            const next = queue.shift()!;
            await stream.writeSSE({ event: next.event, data: JSON.stringify(next.data) });
          }
          if (finished) break;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      });
    }

    let text = '';
    const errors: ChatErrorEvent[] = [];
    const sink: ChatSink = { token: (e) => (text += e.delta), audio: () => undefined, error: (e) => errors.push(e), done: () => undefined };
    const { answer, finished } = await deps.chat.start({ user, id, message: parsed.data.message, voice: false, conversationId: parsed.data.conversationId, sink });
    abortWhenGone(c.req.raw.signal, answer);
    const done: ChatDoneEvent = await finished;
    if (!text && errors[0]) throw new AppError(errors[0].code === 'voice_unavailable' ? 'internal' : errors[0].code, errors[0].message);
    return c.json({ ...done, text, errors });
  });

  return app;
}

/** A client that closes its request stops the answer: the provider is hung up on and only what was delivered is charged. */
function abortWhenGone(request: AbortSignal, answer: LiveAnswer): void {
  if (request.aborted) answer.abort.abort();
  else request.addEventListener('abort', () => answer.abort.abort(), { once: true });
}
