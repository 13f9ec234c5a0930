/**
 * The model router: one streaming call over Grok → GPT → Claude (or the local
 * analyst offline), with routing rules, retries, failover and a circuit
 * breaker per provider.
 *
 * Policy:
 * - Order from routing.rules.ts; providers whose breaker is open are skipped
 *   at no cost.
 * - A failure BEFORE the first text token is retried on the same provider
 *   (only retryable kinds, `retriesPerProvider` times, backoff honouring a
 *   capped Retry-After), then the next provider is tried.
 * - Once a text token reached the caller the provider is committed: any later
 *   failure ends the answer with status 'incomplete' (never a second answer,
 *   never duplicated text).
 * - The caller's AbortSignal aborts the upstream HTTP request at once; the
 *   result has status 'aborted' and usage with whatever was consumed.
 * - Time-to-first-token timeout per request; an idle timeout between chunks.
 * - Throws AppError('provider_unavailable') only when no provider produced
 *   anything; otherwise it returns a result.
 */
import { AppError } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { createAnthropicProvider } from './anthropic.provider';
import { createCircuitBreaker, type BreakerOptions, type BreakerSnapshot, type CircuitBreaker } from './circuit-breaker';
import { createLocalAnalystProvider, type LocalAnalystOptions } from './local-analyst.provider';
import { createOpenAIStyleProvider } from './openai.provider';
import { classifyFailure, retryDelay, RouterTimeout } from './retry-policy';
import type { AttemptReport, PlannedRoute, ProviderAdapter, ProviderName, ProviderOutcome, RouteKind, StreamRequest, StreamResult, TokenUsage } from './router.types';
import { classifyRequest, orderProviders } from './routing.rules';
import { toolSpecsFor } from './tools';
import { ZERO_USAGE } from './usage-meter';
import { sleepUnlessAborted } from './sleep';

export interface RemoteProviderConfig {
  /** Without a key the provider is not configured (skipped). */
  apiKey?: string;
  baseURL?: string;
  model?: string;
}

export interface RouterOptions {
  providers?: { xai?: RemoteProviderConfig; openai?: RemoteProviderConfig; anthropic?: RemoteProviderConfig };
  local?: LocalAnalystOptions;
  /** Try the local analyst after every remote provider failed (default false: fail with provider_unavailable). */
  localAsLastResort?: boolean;
  firstTokenTimeoutMs?: number;
  idleTimeoutMs?: number;
  retriesPerProvider?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  maxRetryAfterMs?: number;
  maxToolRounds?: number;
  maxOutputTokens?: number;
  breaker?: Omit<BreakerOptions, 'now'>;
  /** Clock of the circuit breakers (ms). */
  now?: () => number;
  /** Jitter source for backoff. */
  random?: () => number;
  log?: Logger;
  /** Told of every attempt as it is recorded, with the answer's earlier attempts (metrics, /healthz's last success). */
  onAttempt?: (report: AttemptReport, earlier: readonly AttemptReport[]) => void;
}

/** An answer's attempt list that also reports each attempt to `onAttempt` as it is pushed. */
function observedAttempts(onAttempt: RouterOptions['onAttempt']): AttemptReport[] {
  const list: AttemptReport[] = [];
  if (onAttempt) {
    list.push = (...items) => {
      for (const item of items) {
        onAttempt(item, list.slice());
        Array.prototype.push.call(list, item);
      }
      return list.length;
    };
  }
  return list;
}

export const DEFAULT_MODELS = {
  xai: 'grok-4-fast-non-reasoning',
  openai: 'gpt-4.1-mini',
  anthropic: 'claude-sonnet-4-5',
} as const;
export const DEFAULT_BASE_URLS = {
  xai: 'https://api.x.ai/v1',
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
} as const;

export interface RouterHealth {
  /** At least one provider can take a request now. */
  ok: boolean;
  providers: Array<{ provider: ProviderName; model: string } & BreakerSnapshot>;
}

export interface ModelRouter {
  stream(request: StreamRequest): Promise<StreamResult>;
  health(): RouterHealth;
  /** The providers that may answer, in base order (for price-table validation at startup). */
  configured(): Array<{ provider: ProviderName; model: string }>;
  /**
   * The provider `stream` would try first for this request (routing rule, then
   * the first whose breaker is not open): what the answer's credits are sized
   * for. Later providers are priced through `budgetFor` if a fallback happens.
   */
  plan(request: Pick<StreamRequest, 'prompt' | 'tools' | 'prefer'>): PlannedRoute;
}

export function createModelRouter(options: RouterOptions = {}): ModelRouter {
  const adapters = new Map<ProviderName, ProviderAdapter>();
  for (const name of ['xai', 'openai', 'anthropic'] as const) {
    const cfg = options.providers?.[name];
    if (!cfg?.apiKey) continue;
    const common = { apiKey: cfg.apiKey, baseURL: cfg.baseURL ?? DEFAULT_BASE_URLS[name], model: cfg.model ?? DEFAULT_MODELS[name] };
    adapters.set(name, name === 'anthropic' ? createAnthropicProvider(common) : createOpenAIStyleProvider({ name, ...common }));
  }
  const offline = adapters.size === 0;
  if (offline || options.localAsLastResort) adapters.set('local', createLocalAnalystProvider(options.local));
  const breakers = new Map<ProviderName, CircuitBreaker>([...adapters.keys()].map((n) => [n, createCircuitBreaker({ ...options.breaker, now: options.now })]));

  const firstTokenTimeoutMs = options.firstTokenTimeoutMs ?? 10_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
  const retriesPerProvider = options.retriesPerProvider ?? 1;
  const backoff = { baseMs: options.backoffBaseMs ?? 200, maxMs: options.backoffMaxMs ?? 2_000, maxRetryAfterMs: options.maxRetryAfterMs ?? 2_000 };
  const maxToolRounds = options.maxToolRounds ?? 3;
  const log = options.log;

  async function attempt(adapter: ProviderAdapter, request: StreamRequest, callerSignal: AbortSignal) {
    const started = performance.now();
    const ctl = new AbortController();
    const signal = AbortSignal.any([callerSignal, ctl.signal]);
    let timer: RouterTimeout | undefined;
    let ttft: NodeJS.Timeout | undefined;
    let idle: NodeJS.Timeout | undefined;
    let firstTokenMs: number | undefined;
    let delivered = '';
    const source = { provider: adapter.name, model: adapter.model };
    const fire = (kind: RouterTimeout['kind']) => {
      if (timer) return;
      timer = new RouterTimeout(kind);
      ctl.abort(timer);
    };
    let outcome: ProviderOutcome;
    try {
      outcome = await adapter.run({
        prompt: request.prompt,
        system: request.prompt.system,
        messages: request.prompt.messages,
        tools: request.tools,
        maxOutputTokens: request.maxOutputTokens ?? options.maxOutputTokens ?? 800,
        maxToolRounds,
        signal,
        onRequestStart: () => {
          clearTimeout(idle);
          idle = undefined;
          clearTimeout(ttft);
          ttft = setTimeout(() => fire('first_token_timeout'), firstTokenTimeoutMs);
        },
        ...(request.admitted ? { beforeNextRound: () => request.admitted! } : {}),
        onActivity: () => {
          if (ttft !== undefined) {
            clearTimeout(ttft);
            ttft = undefined;
            firstTokenMs ??= Math.round(performance.now() - started);
          }
          // Called for every chunk: one timer per attempt, re-armed in place (no timer object per token).
          if (idle === undefined) idle = setTimeout(() => fire('stalled'), idleTimeoutMs);
          else idle.refresh();
        },
        onToken: (delta) => {
          // Nothing reaches the caller once this attempt is being torn down.
          if (timer || callerSignal.aborted || delta.length === 0) return;
          delivered += delta;
          request.onToken?.(delta, source);
        },
      });
    } finally {
      clearTimeout(ttft);
      clearTimeout(idle);
    }
    return { outcome, timer, delivered, firstTokenMs, durationMs: Math.round(performance.now() - started) };
  }

  function retryAfterHeader(): Record<string, string> {
    const waits = [...breakers.values()].map((b) => b.snapshot().retryInMs).filter((v): v is number => v !== undefined);
    const seconds = waits.length > 0 ? Math.max(1, Math.ceil(Math.min(...waits) / 1000)) : 5;
    return { 'Retry-After': String(seconds) };
  }

  function routeOf(request: Pick<StreamRequest, 'prompt' | 'tools' | 'prefer'>): { kind: RouteKind; order: ProviderName[] } {
    const toolsAvailable = toolSpecsFor(request.tools).length > 0;
    const kind: RouteKind = offline
      ? 'offline'
      : request.prefer && adapters.has(request.prefer) && request.prefer !== 'local'
        ? 'preferred'
        : classifyRequest(request.prompt.input, toolsAvailable).kind;
    const order = orderProviders([...adapters.keys()], kind, request.prefer);
    if (options.localAsLastResort && !order.includes('local')) order.push('local');
    return { kind, order };
  }

  return {
    configured: () => [...adapters.values()].map((a) => ({ provider: a.name, model: a.model })),

    plan: (request) => {
      const { kind, order } = routeOf(request);
      const first = order.find((name) => breakers.get(name)!.snapshot().state !== 'open') ?? order[0]!;
      return { provider: first, model: adapters.get(first)!.model, kind };
    },

    health: () => {
      const providers = [...adapters.values()].map((a) => ({ provider: a.name, model: a.model, ...breakers.get(a.name)!.snapshot() }));
      return { ok: providers.some((p) => p.state !== 'open'), providers };
    },

    stream: async (request) => {
      const callerSignal = request.signal ?? new AbortController().signal;
      const route = routeOf(request);
      const { order } = route;
      const attempts = observedAttempts(options.onAttempt);
      let overBudget = false;
      // Only the first upstream request may go out before the caller has paid (StreamRequest.admitted).
      let requested = false;

      const finish = (adapter: ProviderAdapter, status: StreamResult['status'], text: string, usage: TokenUsage, outcome?: ProviderOutcome): StreamResult => ({
        provider: adapter.name,
        model: adapter.model,
        text,
        usage,
        status,
        route,
        attempts,
        toolCalls: outcome?.toolCalls ?? [],
      });

      for (let p = 0; p < order.length; p++) {
        const adapter = adapters.get(order[p]!)!;
        const breaker = breakers.get(adapter.name)!;
        let budget: number | undefined;
        for (let retry = 0; ; retry++) {
          if (requested && request.admitted) await request.admitted;
          if (callerSignal.aborted) return finish(adapter, 'aborted', '', ZERO_USAGE);
          if (!breaker.tryAcquire()) {
            attempts.push({ provider: adapter.name, model: adapter.model, outcome: 'skipped', reason: 'circuit_open', durationMs: 0, usage: ZERO_USAGE });
            break;
          }
          // Priced once per provider, after the breaker let it through: only a provider that will really be tried is paid for.
          if (request.budgetFor && budget === undefined) {
            try {
              budget = await request.budgetFor({ provider: adapter.name, model: adapter.model });
            } catch (err) {
              breaker.release();
              throw err;
            }
            if (budget === undefined || budget <= 0) {
              breaker.release();
              overBudget = true;
              attempts.push({ provider: adapter.name, model: adapter.model, outcome: 'skipped', reason: 'over_budget', durationMs: 0, usage: ZERO_USAGE });
              break;
            }
          }
          requested = true;
          const a = await attempt(adapter, budget === undefined ? request : { ...request, maxOutputTokens: budget }, callerSignal);
          const report = { provider: adapter.name, model: adapter.model, durationMs: a.durationMs, ...(a.firstTokenMs !== undefined ? { firstTokenMs: a.firstTokenMs } : {}) };

          if (callerSignal.aborted) {
            breaker.release();
            attempts.push({ ...report, outcome: 'aborted', usage: a.outcome.usage });
            return finish(adapter, 'aborted', a.delivered, a.outcome.usage, a.outcome);
          }
          const clean = a.outcome.finished && a.outcome.error === undefined && a.timer === undefined;
          if (a.delivered.length > 0 || clean) {
            // Committed to this provider: whatever happens now, no failover.
            if (clean) breaker.success();
            else breaker.failure();
            const status = clean ? 'complete' : 'incomplete';
            const failure = clean ? undefined : classifyFailure(a.outcome.error, a.timer);
            if (failure) log?.warn({ provider: adapter.name, kind: failure.kind, status: failure.status }, 'answer cut short after first token');
            attempts.push({ ...report, outcome: status, ...(failure ? { reason: failure.kind, message: failure.message } : {}), usage: a.outcome.usage });
            return finish(adapter, status, a.delivered, a.outcome.usage, a.outcome);
          }

          const failure = classifyFailure(a.outcome.error, a.timer);
          breaker.failure();
          log?.warn({ provider: adapter.name, kind: failure.kind, status: failure.status, retry }, 'provider attempt failed before first token');
          attempts.push({
            ...report,
            outcome: 'failed',
            reason: failure.kind,
            message: failure.message,
            ...(failure.status !== undefined ? { status: failure.status } : {}),
            // A provider that produced nothing costs nothing; a tool round that ran is reported.
            usage: a.outcome.usage.outputTokens > 0 ? a.outcome.usage : ZERO_USAGE,
          });
          if (!failure.retrySame || retry >= retriesPerProvider) break;
          const delay = retryDelay(failure, retry, { ...backoff, hasNext: p < order.length - 1 }, options.random);
          if (delay === undefined) break;
          await sleepUnlessAborted(delay, callerSignal);
        }
      }
      if (callerSignal.aborted) return finish(adapters.get(order[0]!)!, 'aborted', '', ZERO_USAGE);
      if (overBudget) throw new AppError('insufficient_credits', 'Your balance does not cover an answer from the providers available now.');
      throw new AppError('provider_unavailable', 'No AI provider can answer right now; please try again shortly.', { headers: retryAfterHeader() });
    },
  };
}
