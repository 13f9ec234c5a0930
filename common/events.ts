import type { EdgeFacts } from './edge';
/**
 * The Socket.IO contract, shared by server, pipeline and client. Payload
 * schemas for what the client sends live beside the handlers (zod); these are
 * the types both ends compile against. Documented for third parties in
 * docs/PROTOCOL.md.
 */
import type { ErrorCode } from './errors';

export type Ack<T> = { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string } };

export type ChatStatus = 'complete' | 'aborted' | 'incomplete';

export interface ChatSendPayload {
  /** Client-chosen id of this request (1–100 chars); also the idempotency key of its charge. */
  id: string;
  message: string;
  voice?: boolean;
  /** Continue this conversation (one of yours); absent = start a new one. Its recent turns are read from the server, never sent. */
  conversationId?: string;
}

/** The ack of an accepted `chat:send`: the conversation the question and its answer are stored in. */
export interface ChatAccepted {
  requestId: string;
  conversationId: string;
}

export interface ChatTokenEvent {
  id: string;
  delta: string;
  /** Position of this delta in the answer, from 0; lets a resuming client drop what it already has. */
  seq: number;
}

export interface ChatAudioEvent {
  id: string;
  seq: number;
  mime: string;
  /** Audio bytes; empty together with `final: true` marks the end of the audio. */
  data: Uint8Array;
  final?: boolean;
}

export interface ChatUsage {
  inputTokens: number;
  outputTokens: number;
  voiceCharacters: number;
  estimated: boolean;
}

export interface ChatDoneEvent {
  id: string;
  provider: string;
  model: string;
  usage: ChatUsage;
  credits: { charged: number; balance: number };
  status: ChatStatus;
  /** Where the question and this answer are stored. */
  conversationId: string;
}

export interface ChatErrorEvent {
  id: string;
  code: ErrorCode | 'voice_unavailable';
  message: string;
}

export interface SignalRow {
  id: number;
  symbol: string;
  timeframe: string;
  candleTime: string;
  direction: 'long' | 'short' | 'flat';
  score: number;
  entry: number;
  stop: number | null;
  takeProfit: number | null;
  reasons: unknown;
  doubling: unknown;
  /** The measured edge of the pair and timeframe when the signal was made; null before any track record. */
  edge?: EdgeFacts | null;
  createdAt: string;
}

export interface ServerToClientEvents {
  'chat:token': (event: ChatTokenEvent) => void;
  'chat:audio': (event: ChatAudioEvent) => void;
  'chat:done': (event: ChatDoneEvent) => void;
  'chat:error': (event: ChatErrorEvent) => void;
  'credits:balance': (event: { balance: number }) => void;
  'signal:new': (signal: SignalRow) => void;
  /** The access token expired while connected: refresh it, set `socket.auth`, reconnect. */
  'auth:expired': (event: { message: string }) => void;
}

export interface ClientToServerEvents {
  'chat:send': (payload: ChatSendPayload, ack: (result: Ack<ChatAccepted>) => void) => void;
  'chat:abort': (payload: { id: string }, ack?: (result: Ack<{ aborted: boolean }>) => void) => void;
  /** Resume an answer in progress after a reconnect: replays what was sent after `fromSeq`. */
  'chat:resume': (payload: { id: string; fromSeq: number }, ack: (result: Ack<{ status: 'streaming' | 'finished' }>) => void) => void;
  'signals:subscribe': (
    payload: { symbols: string[]; sinceId?: number },
    ack: (result: Ack<{ joined: string[]; refused: string[] }>) => void,
  ) => void;
  'signals:unsubscribe': (payload: { symbols: string[] }, ack?: (result: Ack<{ left: string[] }>) => void) => void;
}

export interface SocketData {
  userId: string;
  email?: string;
  tokenExpiresAt: number;
}
