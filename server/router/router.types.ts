/**
 * The contract of the model router: one streaming call, whatever provider
 * answers. See router.ts for the policy (order, retries, failover, breaker).
 */
import type { ChatStatus } from '../../common/events';
import type { ChatMessage, Prompt } from '../context';
import type { ToolCallReport, ToolExecutors } from './tools';

export type ProviderName = 'xai' | 'openai' | 'anthropic' | 'local';

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** True when any part was counted locally (stream aborted or cut before the provider reported it). */
  estimated: boolean;
}

export interface StreamRequest {
  prompt: Prompt;
  /** Tool executors (run by the caller under the user's rights); absent = no tool calling. */
  tools?: ToolExecutors;
  /** Aborts the upstream request at once; the result then has status 'aborted'. */
  signal?: AbortSignal;
  /** Each text delta, in order, exactly once (never replayed after a failover), with the provider that produced it. */
  onToken?: (delta: string, source: { provider: ProviderName; model: string }) => void;
  /** Force this provider first (if configured), overriding the routing rule. */
  prefer?: ProviderName;
  maxOutputTokens?: number;
  /**
   * Called before the first attempt on each provider of the route: the output
   * cap this provider may use (the caller may extend its credit reservation
   * first, e.g. before a fallback to a pricier provider), or undefined when
   * the caller cannot pay for even a minimal answer there — the provider is
   * then skipped. Without it every provider uses `maxOutputTokens`.
   */
  budgetFor?: (route: { provider: ProviderName; model: string }) => Promise<number | undefined>;
  /**
   * Resolves once the caller has paid for the answer; rejects if it is not
   * paid for. Given, the answer's first upstream request may go out before it
   * settles (the caller holds the deltas meanwhile): its time to first token
   * then overlaps the caller's own work. Every later request waits for it —
   * a retry, a fallback and a tool round's next request alike.
   */
  admitted?: Promise<void>;
}

/** The provider the router would try first for a request, and why. */
export interface PlannedRoute {
  provider: ProviderName;
  model: string;
  kind: RouteKind;
}

export type RouteKind = 'complex' | 'tools' | 'default' | 'preferred' | 'offline';

export interface AttemptReport {
  provider: ProviderName;
  model: string;
  outcome: 'complete' | 'incomplete' | 'aborted' | 'failed' | 'skipped';
  /** Why it failed or was skipped: an error kind from retry-policy, 'circuit_open' or 'over_budget'. */
  reason?: string;
  status?: number;
  message?: string;
  /** ms from request to first content (text or tool call), when there was any. */
  firstTokenMs?: number;
  durationMs: number;
  /** What this attempt consumed; zero for an attempt that produced nothing. */
  usage: TokenUsage;
}

export interface StreamResult {
  provider: ProviderName;
  model: string;
  /** Everything passed to onToken, concatenated. */
  text: string;
  /** Usage of the attempt that answered (the one to charge); other attempts are in `attempts`. */
  usage: TokenUsage;
  status: ChatStatus;
  route: { kind: RouteKind; order: ProviderName[] };
  attempts: AttemptReport[];
  toolCalls: ToolCallReport[];
}

/** What a provider adapter gets for one attempt (all rounds of the tool loop). */
export interface ProviderTurn {
  prompt: Prompt;
  system: string;
  messages: ChatMessage[];
  tools?: ToolExecutors;
  maxOutputTokens: number;
  maxToolRounds: number;
  /** Caller's signal combined with the router's timers. */
  signal: AbortSignal;
  onToken(delta: string): void;
  /** A request went out: the router (re)starts its time-to-first-token timer. */
  onRequestStart(): void;
  /** Content arrived (text or tool-call delta): clears the first-token timer, resets the idle timer. */
  onActivity(): void;
  /** Awaited before each request after the attempt's first (a tool round's): see StreamRequest.admitted. Rejects: no further request. */
  beforeNextRound?(): Promise<void>;
}

/** What an adapter reports; it never throws — failures come back in `error`. */
export interface ProviderOutcome {
  text: string;
  /** Usage across all rounds, provider-reported where available, else estimated. */
  usage: TokenUsage;
  /** The provider said the answer is over (finish_reason / message_stop). */
  finished: boolean;
  error?: unknown;
  toolCalls: ToolCallReport[];
}

export interface ProviderAdapter {
  name: ProviderName;
  model: string;
  run(turn: ProviderTurn): Promise<ProviderOutcome>;
}
