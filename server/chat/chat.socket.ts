import type { Socket } from 'socket.io';
import { z } from 'zod';
import { ackFailure, parsePayload } from '../realtime/acks';
import { emitToSocket } from '../realtime/local-broadcast';
import { AppError } from '../../common/errors';
import { safeText } from '../../common/text';
import type { Ack, ClientToServerEvents, ServerToClientEvents, SocketData } from '../../common/events';
import type { Logger } from '../../common/logger';
import { socketUser } from '../realtime/socket-auth';
import type { AnswerRegistry, ChatSink } from './answer-registry';
import type { ChatService } from './chat.service';
import type { RemoteAnswers } from './remote-answers';
import type { InterServerEvents } from '../realtime/inter-server';

type ZmartySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export const MAX_MESSAGE_CHARS = 4000;
const idSchema = z.string().trim().min(1, 'id is required').max(100, 'id is too long').regex(/^[\w.:-]+$/, 'id may use letters, digits and . _ : -');
/** A conversation id: anything else cannot name one of the user's conversations. */
export const conversationIdSchema = z.uuid('conversationId must be a conversation id');
/** A chat message, for the socket and the REST fallback alike: multi-line text, no other control characters. */
export const chatMessageSchema = safeText({ multiline: true })
  .trim()
  .min(1, 'message is empty')
  .max(MAX_MESSAGE_CHARS, `message is longer than ${MAX_MESSAGE_CHARS} characters`);
const sendSchema = z.object({
  id: idSchema,
  message: chatMessageSchema,
  voice: z.boolean().optional().default(false),
  conversationId: conversationIdSchema.optional(),
});
const abortSchema = z.object({ id: idSchema });
const resumeSchema = z.object({ id: idSchema, fromSeq: z.number().int().min(-1) });

/** A sink that writes an answer's events to one socket. */
export function socketSink(socket: ZmartySocket): ChatSink {
  return {
    // The hot one: tens per answer, written straight to an idle WebSocket (local-broadcast.ts).
    token: (e) => emitToSocket(socket, 'chat:token', e),
    audio: (e) => socket.emit('chat:audio', e),
    error: (e) => socket.emit('chat:error', e),
    done: (e) => socket.emit('chat:done', e),
  };
}

/** chat:send / chat:abort / chat:resume for one authenticated socket. Payloads are validated; errors go to the ack. */
export function registerChatHandlers(
  socket: ZmartySocket,
  deps: {
    chat: ChatService;
    registry: AnswerRegistry;
    log: Logger;
    /** Answers running on other instances (absent: this instance's only). */
    remote?: RemoteAnswers;
    /** Stops the user's answer on whichever other instance runs it; true when one did. */
    abortElsewhere?: (userId: string, id: string) => Promise<boolean>;
  },
) {
  const sink = socketSink(socket);
  const attached = new Set<string>();
  // Answers followed from the journal (running on another instance), stopped when this socket goes.
  const following = new Map<string, () => void>();
  // Without an acknowledgement callback a refusal would go nowhere: it goes out as chat:error, under the payload's id.
  const ackOf = (ack: unknown, payload: unknown) =>
    typeof ack === 'function'
      ? (ack as (r: Ack<unknown>) => void)
      : (result: Ack<unknown>) => {
          if (result.ok) return;
          const id = (payload as { id?: unknown } | null)?.id;
          socket.emit('chat:error', { id: typeof id === 'string' ? id : '', ...result.error });
        };

  socket.on('chat:send', async (payload, ack) => {
    const reply = ackOf(ack, payload);
    try {
      if (Date.now() >= socket.data.tokenExpiresAt * 1000) {
        socket.emit('auth:expired', { message: 'Your session token expired; refresh it and reconnect' });
        throw new AppError('token_expired', 'The access token has expired');
      }
      const input = parsePayload(sendSchema, payload);
      const { finished, conversationId } = await deps.chat.start({
        user: socketUser(socket),
        id: input.id,
        message: input.message,
        voice: input.voice,
        conversationId: input.conversationId,
        sink,
      });
      attached.add(input.id);
      reply({ ok: true, data: { requestId: input.id, conversationId } });
      // The failure's chat:error reaches this socket through the answer (chat.service launch).
      finished.catch((err) => deps.log.error({ err, requestId: input.id, socketId: socket.id }, 'chat: answer failed'));
    } catch (err) {
      if (!(err instanceof AppError)) deps.log.error({ err, socketId: socket.id, userId: socket.data.userId }, 'chat:send failed');
      reply(ackFailure(err));
    }
  });

  socket.on('chat:abort', async (payload, ack) => {
    const reply = ackOf(ack, payload);
    try {
      const { id } = parsePayload(abortSchema, payload);
      // A client that reconnected to this instance follows an answer still running on another: stop it there.
      const aborted = deps.chat.abort(socket.data.userId, id) || ((await deps.abortElsewhere?.(socket.data.userId, id)) ?? false);
      reply({ ok: true, data: { aborted } });
    } catch (err) {
      reply(ackFailure(err));
    }
  });

  socket.on('chat:resume', async (payload, ack) => {
    const reply = ackOf(ack, payload);
    try {
      const { id, fromSeq } = parsePayload(resumeSchema, payload);
      // Still being started here (its chat:send came a moment ago, on this socket or an earlier one): it is registered then.
      await deps.chat.startingAnswer(socket.data.userId, id);
      const answer = deps.registry.get(socket.data.userId, id);
      if (answer) {
        const status = answer.attach(sink, fromSeq);
        if (status === 'streaming') attached.add(id);
        return reply({ ok: true, data: { status } });
      }
      if (!deps.remote) throw new AppError('not_found', 'No answer with this id to resume (finished more than 2 minutes ago?)');
      // Not ours: it runs (or ran) on another instance, whose journal this socket replays and follows.
      following.get(id)?.();
      const followed = await deps.remote.resume(socket.data.userId, id, fromSeq, sink);
      if (socket.disconnected) followed.stop();
      else if (followed.status === 'streaming') following.set(id, followed.stop);
      reply({ ok: true, data: { status: followed.status } });
    } catch (err) {
      if (!(err instanceof AppError)) deps.log.error({ err, socketId: socket.id, userId: socket.data.userId }, 'chat:resume failed');
      reply(ackFailure(err));
    }
  });

  // A dropped socket stops receiving, but the answer goes on so the client can resume it.
  socket.on('disconnect', () => {
    for (const id of attached) deps.registry.get(socket.data.userId, id)?.detach(sink);
    for (const stop of following.values()) stop();
  });
}
