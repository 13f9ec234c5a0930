import type { Conversation, StoredMessage as FullStoredMessage } from '../../../common/conversations';
import type { LiqClusterBand, OverviewItem } from '../signals/signals.logic';

/** Same-origin REST API. Errors arrive as `{error:{code,message}}`. */

export interface Me {
  userId: string;
  displayName: string | null;
  tier: string;
  balance: number;
  email: string | null;
  /** What the user's tier allows. */
  limits: { chatPerMinute: number; maxConcurrent: number; maxOutputTokens: number; voiceAllowed: boolean };
}

export interface CreditEntry {
  id: number;
  delta: number;
  reason: string;
  provider: string | null;
  model: string | null;
  estimated: boolean | null;
  requestId: string | null;
  createdAt: string;
}

/** One question's cost (GET /api/credits/spend). */
export interface SpendItem {
  requestId: string;
  question: string | null;
  at: string;
  provider: string | null;
  model: string | null;
  status: 'charged' | 'in_progress';
  credits: number;
  textCredits: number;
  voiceCredits: number;
  estimated: boolean;
}

export interface Spend {
  balance: number;
  items: SpendItem[];
  totals: { questions: number; credits: number; textCredits: number; voiceCredits: number };
}

/** What answers cost on the user's own prompt (GET /api/credits/prices). */
export interface Prices {
  maxOutputTokens: number;
  typicalOutputTokens: number;
  text: { provider: string; model: string; perAnswer: number; upTo: number };
  voice: { model: string; perAnswer: number; upTo: number } | null;
  fullAnswer: number;
  minimumAnswer: number;
}

export interface WatchedSymbol {
  id: number;
  symbol: string;
  timeframe: string;
  createdAt: string;
}

export interface Candle {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface CandlesResponse {
  candles: Candle[];
  clusters: LiqClusterBand[];
}

export type ConversationSummary = Conversation;

/** A stored question or answer (answer fields are null on questions): the part of the server's row the client reads. */
export type StoredMessage = Pick<
  FullStoredMessage,
  'id' | 'requestId' | 'role' | 'content' | 'provider' | 'model' | 'status' | 'credits' | 'createdAt' | 'completedAt'
>;

export interface PublicConfig {
  supabaseUrl: string;
  supabaseAnonKey: string;
  /** Where the market data comes from; 'simulated' is shown to the user as such. */
  marketData?: 'simulated' | 'binance' | 'cryptometer';
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiDeps {
  /** The current access token (supabase-js refreshes it when it is about to expire). */
  getToken: () => Promise<string | null>;
  /** Forces a refresh after a 401; returns the new token or null. */
  refreshToken: () => Promise<string | null>;
  fetch?: typeof fetch;
}

export async function fetchPublicConfig(fetchImpl: typeof fetch = fetch): Promise<PublicConfig> {
  const res = await fetchImpl('/api/config', { headers: { accept: 'application/json' } });
  if (!res.ok) throw new ApiError(res.status, 'config_unavailable', 'Could not load the app configuration');
  return (await res.json()) as PublicConfig;
}

async function toApiError(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  return new ApiError(res.status, body?.error?.code ?? `http_${res.status}`, body?.error?.message ?? res.statusText ?? 'Request failed');
}

export function createApi(deps: ApiDeps) {
  const doFetch = deps.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const send = (token: string | null) =>
      doFetch(path, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    let res = await send(await deps.getToken());
    if (res.status === 401) {
      const fresh = await deps.refreshToken();
      if (fresh) res = await send(fresh);
    }
    if (!res.ok) throw await toApiError(res);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** For endpoints the server may not have yet: 404 means "not available" rather than an error. */
  async function optional<T>(path: string): Promise<T | null> {
    try {
      return await request<T>('GET', path);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 501)) return null;
      throw err;
    }
  }

  return {
    me: () => request<Me>('GET', '/api/me'),
    credits: () => request<{ balance: number; entries: CreditEntry[] }>('GET', '/api/credits'),
    spend: (limit = 20) => request<Spend>('GET', `/api/credits/spend?limit=${limit}`),
    prices: () => request<Prices>('GET', '/api/credits/prices'),
    symbols: async () => (await request<{ symbols: WatchedSymbol[] }>('GET', '/api/symbols')).symbols,
    addSymbol: (symbol: string, timeframe: string) => request<WatchedSymbol>('POST', '/api/symbols', { symbol, timeframe }),
    removeSymbol: (id: number) => request<void>('DELETE', `/api/symbols/${id}`),
    overview: async () => (await optional<{ items: OverviewItem[] }>('/api/symbols/overview'))?.items ?? null,
    conversations: async () => (await request<{ conversations: ConversationSummary[] }>('GET', '/api/conversations')).conversations,
    conversation: (id: string) =>
      request<{ conversation: ConversationSummary; messages: StoredMessage[] }>('GET', `/api/conversations/${encodeURIComponent(id)}`),
    renameConversation: (id: string, title: string) => request<ConversationSummary>('PATCH', `/api/conversations/${encodeURIComponent(id)}`, { title }),
    deleteConversation: (id: string) => request<void>('DELETE', `/api/conversations/${encodeURIComponent(id)}`),
    candles: (symbol: string, timeframe: string, limit = 200) =>
      optional<CandlesResponse>(`/api/market/candles?${new URLSearchParams({ symbol, timeframe, limit: String(limit) })}`),
  };
}

export type Api = ReturnType<typeof createApi>;
