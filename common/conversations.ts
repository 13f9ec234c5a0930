/**
 * The conversations REST contract (docs/PROTOCOL.md), shared by the server's
 * queries and the client, as common/events.ts is for the socket.
 */
import type { ChatStatus } from './events';

export interface Conversation {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
}

export interface StoredMessage {
  id: number;
  requestId: string;
  role: 'user' | 'assistant';
  content: string;
  provider: string | null;
  model: string | null;
  status: ChatStatus | null;
  inputTokens: number | null;
  outputTokens: number | null;
  voiceCharacters: number | null;
  credits: number | null;
  createdAt: string;
  completedAt: string | null;
}
