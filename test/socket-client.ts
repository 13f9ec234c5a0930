import { io, type Socket } from 'socket.io-client';
import type { Ack, ChatAudioEvent, ChatSendPayload, ChatDoneEvent, ChatErrorEvent, ChatTokenEvent, ClientToServerEvents, ServerToClientEvents } from '../common/events';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A real socket.io-client connected with a token; rejects with the connect_error message. */
export async function connectSocket(url: string, token?: string): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, { auth: token ? { token } : {}, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
  return socket;
}

export interface CollectedAnswer {
  ack: Ack<{ requestId: string; conversationId?: string }>;
  tokens: ChatTokenEvent[];
  audio: ChatAudioEvent[];
  errors: ChatErrorEvent[];
  done?: ChatDoneEvent;
  text: string;
}

/** Sends one chat:send and collects every event of that id until chat:done (or a refused ack). */
export function ask(
  socket: ClientSocket,
  payload: ChatSendPayload,
  onToken?: (event: ChatTokenEvent, collected: CollectedAnswer) => void,
): Promise<CollectedAnswer> {
  const collected: CollectedAnswer = { ack: { ok: true, data: { requestId: payload.id } }, tokens: [], audio: [], errors: [], text: '' };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no chat:done for ${payload.id}`)), 20_000);
    const onTokenEvent = (e: ChatTokenEvent) => {
      if (e.id !== payload.id) return;
      collected.tokens.push(e);
      collected.text += e.delta;
      onToken?.(e, collected);
    };
    const onAudio = (e: ChatAudioEvent) => e.id === payload.id && collected.audio.push(e);
    const onError = (e: ChatErrorEvent) => e.id === payload.id && collected.errors.push(e);
    const finish = () => {
      clearTimeout(timer);
      socket.off('chat:token', onTokenEvent).off('chat:audio', onAudio).off('chat:error', onError).off('chat:done', onDone);
      resolve(collected);
    };
    const onDone = (e: ChatDoneEvent) => {
      if (e.id !== payload.id) return;
      collected.done = e;
      finish();
    };
    socket.on('chat:token', onTokenEvent).on('chat:audio', onAudio).on('chat:error', onError).on('chat:done', onDone);
    socket.emit('chat:send', payload, (ack) => {
      collected.ack = ack;
      if (!ack.ok) finish();
    });
  });
}
