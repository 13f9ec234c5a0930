import { LRUCache } from 'lru-cache';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import type { ChatDoneEvent } from '../../common/events';
import type { Logger } from '../../common/logger';
import type { VerifiedUser } from '../auth/token-verifier';
import { buildPrompt, HISTORY_TURNS, type Prompt } from '../context';
import { MIN_ANSWER_OUTPUT_TOKENS, VOICE_CHARACTERS_PER_TOKEN, type AnswerShape, type Pricer } from '../credits/pricing';
import type { Metrics } from '../metrics/metrics';
import { estimatePromptTokens, estimateTokens, TOOL_SPECS, type ModelRouter, type ProviderName, type StreamResult } from '../router';
import { answerCacheKey, isCacheableQuestion, type AnswerCache, type CachedAnswer } from './answer-cache';
import { createTokenRelay, playCachedAnswer, type DeltaHandler, type DeltaSource, type TokenRelay } from './answer-source';
import type { VoiceService, VoiceStreamer } from '../voice';
import type { AnswerRegistry, ChatSink, LiveAnswer } from './answer-registry';
import { createToolExecutors, marketFor } from './chat-context';
import { createAnswerPath, type AnswerFacts, type BeginInput, type BeginOutcome, type FinishInput } from './answer-path.queries';
import type { ToolExecutors } from '../router';
import type { AnswerProgress } from '../credits/answers-in-flight';
import { reservationRefusal, type Ledger } from '../credits/ledger';
import { titleFromQuestion, turnsForPrompt, type Conversations } from '../conversations/conversations.store';
import type { Tiers } from '../tiers/tiers';
import { refusal } from '../limits/refusal';
import { startStageClock, type StageClock } from './answer-timings';
import type { MarketContextCache } from './market-context';
import { coalesceWindowMs } from './token-coalescing';
import { createEarlyStartPolicy } from './early-start';

export interface ChatServiceDeps {
  chatDb: Db;
  tradingDb: Db;
  ledger: Ledger;
  router: ModelRouter;
  pricer: Pricer;
  voice: VoiceService;
  registry: AnswerRegistry;
  /** Where questions and answers are stored, and the prompt's earlier turns come from. */
  conversations: Conversations;
  /** The per-pair market context, computed once per candle (absent: read for every answer). */
  marketContext?: MarketContextCache;
  /** Answers shared across instances for identical questions on identical context (absent: no answer cache). */
  answerCache?: AnswerCache;
  log: Logger;
  /** This process, as recorded on the reservations of the answers it runs. */
  instanceId: string;
  metrics?: Metrics;
  /**
   * Every per-user limit comes from the user's tier: answers per minute, output
   * budget, voice allowed (and answers in progress, which the ledger's reserve
   * statement reads itself).
   */
  tiers: Pick<Tiers, 'forUser'>;
  /** The answers-per-minute limiter at a given limit, shared by all instances (backed by the database). */
  perMinute: (limit: number) => RateLimiterAbstract;
  /** Tokens after the first are batched for this long into one chat:token (0 = one event per provider token). */
  tokenCoalesceMs?: number;
  /** Token events per second this process aims to stay under by widening the window when many answers stream (0 = fixed window; see token-coalescing.ts). */
  tokenEventsPerSecond?: number;
  /**
   * Ask the provider while the reservation is being made, when this instance
   * expects it to be granted (see early-start.ts): the reservation's round trip
   * then overlaps the provider's time to first token. Default true.
   */
  earlyProviderStart?: boolean;
  now?: () => Date;
}

export interface StartChatInput {
  user: VerifiedUser;
  id: string;
  message: string;
  voice: boolean;
  sink: ChatSink;
  /** The user's conversation to continue; absent = a new one. */
  conversationId?: string;
}

export interface StartedAnswer {
  answer: LiveAnswer;
  conversationId: string;
  finished: Promise<ChatDoneEvent>;
}

/** What is known of an answer while it runs: enough to charge what it delivered if this process dies. */
interface Delivery {
  userId: string;
  requestId: string;
  inputTokens: number;
  voiceModel?: string;
  /** Who produced the deltas so far: a provider, or 'cache'. */
  source?: DeltaSource;
  text: string;
  voice?: VoiceStreamer;
  counted?: { length: number; tokens: number };
  /** Credits held for the answer (the reservation and any extension for a fallback). */
  reserved: number;
  /** The output budget of the user's tier. */
  maxOutputTokens: number;
}

/** A provider call under way; its deltas are held in `relay` until the answer runs. */
interface ProviderStream {
  result: Promise<StreamResult>;
  relay: TokenRelay;
  abort: AbortController;
  /** Aborts the call and waits for it to end (nothing it produced was sent). */
  cancel(): Promise<void>;
  /** A call started before its reservation was granted: lets it go on past its first request (see StreamRequest.admitted). */
  admit(): void;
}

/** Where an accepted answer's text comes from. `cacheKey`: a complete provider answer is stored under it. */
type AnswerSource = { kind: 'provider'; stream: ProviderStream; cacheKey?: string } | { kind: 'cache'; answer: CachedAnswer };

/** How an answer ended, whoever wrote it. */
interface Outcome {
  provider: string;
  model: string;
  usage: StreamResult['usage'];
  status: StreamResult['status'];
}

/**
 * Kept for others only when it is whole, written from the prompt alone (a
 * tool call reads data the fingerprint does not cover), and by a provider we
 * pay (the local analyst is free and deterministic: nothing to save).
 */
function isWorthCaching(result: StreamResult): boolean {
  return result.status === 'complete' && result.toolCalls.length === 0 && result.provider !== 'local' && result.text.trim().length > 0;
}

/** The question as kept on its reservation, for the spend list: one line, at most 120 characters. */
function questionPreview(message: string): string {
  const chars = Array.from(message.replace(/\s+/g, ' ').trim());
  return chars.length <= 120 ? chars.join('') : `${chars.slice(0, 119).join('')}…`;
}

/** The abort reason of answers cut by a shutdown (not by their user). */
const SHUTDOWN = new Error('the server is shutting down');

/**
 * One answer, from request to charge: limits, context, reservation, the
 * model stream (and voice), settlement. `start` resolves once the answer is
 * accepted and credits are reserved (so the caller can ack), and `finished`
 * resolves after the `done` event.
 */
export function createChatService(deps: ChatServiceDeps) {
  const now = deps.now ?? (() => new Date());
  const coalesceMs = deps.tokenCoalesceMs ?? 16;
  const coalescing = { minMs: coalesceMs, eventsPerSecond: deps.tokenEventsPerSecond ?? 0 };
  const deliveries = new Map<LiveAnswer, Delivery>();
  const running = new Set<Promise<ChatDoneEvent>>();
  let accepting = true;
  const answerPath = createAnswerPath({ chatDb: deps.chatDb });
  // The watchlist each user's last prompt was built from, and its hash: never trusted, only named to begin_answer,
  // which checks it against the stored one in the same call (a change made on any instance is seen at once).
  const watchlists = new LRUCache<string, { symbols: AnswerFacts['symbols']; hash: string }>({ max: 50_000 });
  const early = createEarlyStartPolicy({ enabled: deps.earlyProviderStart ?? true, answerCacheTtlMs: deps.answerCache?.ttlMs });
  // Accepted requests still gathering context or reserving, by user and id: a drain waits for them to become answers;
  // a second one with the same id here is a conflict at once (the reservation decides across instances), so it never
  // sends a provider call of its own early; and a resume of one waits for it to be registered (startingAnswer).
  const starting = new Map<string, Promise<StartedAnswer>>();
  const startingKey = (userId: string, id: string) => `${userId}\u0000${id}`;

  function start(input: StartChatInput): Promise<StartedAnswer> {
    if (!accepting) return Promise.reject(new AppError('unavailable', 'Zmarty is restarting; ask again in a moment'));
    const key = startingKey(input.user.userId, input.id);
    if (starting.has(key)) return Promise.reject(new AppError('conflict', 'This request is already being answered; resume it instead'));
    const ended = early.starts(input.user.userId);
    const started = begin(input);
    starting.set(key, started);
    void started.then((a) => a.finished.catch(() => undefined).finally(ended), ended);
    void started
      .catch(() => undefined)
      .finally(() => {
        starting.delete(key);
      });
    return started;
  }


  /**
   * The answer path, in stages (each timed, see answer-timings.ts), with one
   * database round trip before the provider is called in the common case:
   * 1. tier (cached per instance, see server/tiers): voice allowed, limits.
   * 2. context: the watchlist this instance remembers for the user, the market
   *    from the per-candle cache; a follow-up or a question answered with the
   *    user's account facts (or a watchlist not remembered) reads the facts
   *    first (`facts`: one call, which also consumes the per-minute limit and
   *    checks the conversation is the user's).
   * 3. prompt: built and sized for the route the router will try first.
   * 4. begin (sql/chat/0017 begin_answer), one call: the per-minute limit, the
   *    watchlist checked against the one the prompt was built from (changed:
   *    its facts come back and the prompt is rebuilt), the answer cache lookup,
   *    the reservation (id unused, under the cap, paid for) and the question
   *    stored. A hit is played (no provider) and settled at the cache price.
   * 5. provider call: sent with `begin` when this instance expects the grant
   *    (early-start.ts), else after it. Nothing it produces reaches the client
   *    before the grant, and nothing but its first request goes out before it
   *    (no retry, fallback or tool round); not granted, it is aborted.
   *    run: deltas reach the client (coalesced), then the settlement, the
   *    answer and the cache entry in one call (finish_answer).
   */
  async function begin(input: StartChatInput): Promise<StartedAnswer> {
    const { user, id } = input;
    const clock = startStageClock();
    const receivedAt = performance.now();
    // A fast answer for the common retry; the reservation below is what decides, across instances.
    const existing = deps.registry.get(user.userId, id);
    if (existing) {
      throw new AppError('conflict', existing.finished ? 'This request was already answered' : 'This request is already being answered; resume it instead');
    }
    // The tier decides the limits (cached briefly per instance, see server/tiers).
    const tier = await deps.tiers.forUser(user.userId);
    if (input.voice && !tier.voiceAllowed) throw new AppError('forbidden', `Spoken answers are not included in the ${tier.tier} tier; ask without voice`);
    const limiter = deps.perMinute(tier.chatPerMinute);
    const maxOutputTokens = tier.maxOutputTokens;
    clock.mark('limits');

    const wantsVoice = input.voice && deps.voice.available;
    const voiceModel = wantsVoice ? deps.voice.modelId : undefined;
    const delivery: Delivery = { userId: user.userId, requestId: id, inputTokens: 0, voiceModel, text: '', reserved: 0, maxOutputTokens };
    const base = { input, delivery, clock, receivedAt };
    // A cacheable question is asked without the user's account facts (so that its answer can be shared), and a
    // first question has no history: it needs nothing from the database but the watchlist, checked in `begin`.
    const cacheable = deps.answerCache !== undefined && isCacheableQuestion(input);
    let watch = cacheable ? watchlists.get(user.userId) : undefined;
    let facts: AnswerFacts | undefined;
    // The per-minute limit is consumed by the first call of this answer that reaches the database.
    let limitKey: string | null = limiter.getKey(user.userId);
    const call = async (request: Partial<BeginInput>): Promise<BeginOutcome> => {
      const outcome = await answerPath.begin({
        userId: user.userId,
        requestId: id,
        instanceId: deps.instanceId,
        limitKey,
        perMinute: limiter.points,
        windowMs: limiter.duration * 1000,
        nowMs: Date.now(),
        conversationId: input.conversationId,
        historyMessages: HISTORY_TURNS * 2,
        watchHash: null,
        amount: 0,
        minAmount: 0,
        preview: questionPreview(input.message),
        message: input.message,
        title: titleFromQuestion(input.message),
        ...request,
      });
      if (outcome.outcome === 'rate_limited') throw refusal(new RateLimiterRes(0, outcome.retryMs, limiter.points + 1, false), 'questions');
      limitKey = null;
      if (outcome.outcome === 'not_found') throw new AppError('not_found', 'No such conversation');
      if (outcome.outcome === 'facts') {
        facts = outcome.facts;
        watch = { symbols: facts.symbols, hash: facts.watchHash };
        watchlists.set(user.userId, watch);
        clock.mark('facts');
      }
      return outcome;
    };

    for (let attempt = 1; ; attempt++) {
      if (!watch) await call({});
      const { symbols, hash } = watch!;
      const market = await marketFor(deps, symbols, user.userId);
      const cacheKey = cacheable && market.fingerprint !== undefined ? answerCacheKey(input.message, market.fingerprint) : undefined;
      // Asked with the account facts (the market is unavailable, so not from the cache): read them first.
      if (cacheKey === undefined && !facts) {
        watch = undefined;
        continue;
      }
      clock.mark('context');
      const history = facts?.history ? turnsForPrompt(facts.history, HISTORY_TURNS) : [];
      const prompt = buildPrompt({
        userMessage: input.message,
        symbols,
        market: market.market,
        account: cacheKey === undefined ? facts!.account : null,
        now: now(),
        toolsAvailable: true,
        history,
      });
      delivery.inputTokens = estimatePromptTokens({ system: prompt.system, messages: prompt.messages, tools: TOOL_SPECS });
      const tools = createToolExecutors(deps, user);
      // Sized for the provider that will be tried first, not the priciest one: a fallback extends it (see budgetFor).
      // A balance short of the full budget still buys a shorter answer; only one below a minimal answer is refused.
      const planned = deps.router.plan({ prompt, tools });
      const sizing = deps.pricer.reservationFor({ route: planned, inputTokens: delivery.inputTokens, voiceModel }, maxOutputTokens);
      clock.mark('prompt');

      // The reservation covers the provider's answer and a cached one alike (a hit is settled at the cache price, the
      // rest returned). A hit the reservation cannot pay for (a balance below the cache price) is asked of the provider;
      // a balance too small for the provider but enough for the cached answer reserves exactly that instead.
      const cacheCost = (text?: string) =>
        deps.pricer.cachedAnswerCost(voiceModel ? (text?.length ?? maxOutputTokens * VOICE_CHARACTERS_PER_TOKEN) : 0, voiceModel);
      const amount = cacheKey === undefined ? sizing.amount : Math.max(sizing.amount, cacheCost());
      // Sent early, the call's output cap is sized on the amount asked for (budgetFor): a smaller grant restarts it below.
      delivery.reserved = amount;
      let sentEarly = early.expectsGrant(user.userId, amount, cacheKey) ? startStream({ prompt, tools, delivery, early: true }) : undefined;
      const unused = () => {
        if (!sentEarly) return;
        deps.metrics?.chatEarlyStarts.inc({ outcome: 'cancelled' });
        void sentEarly.cancel();
        sentEarly = undefined;
      };
      let begun: BeginOutcome;
      try {
        begun = await call({ watchHash: hash, amount, minAmount: sizing.minAmount, cacheKey });
      } catch (err) {
        early.sawRefusal(user.userId);
        unused();
        throw err;
      }
      if (begun.outcome === 'facts') {
        unused();
        // The watchlist changed since this instance saw it: the prompt is rebuilt on the stored one.
        if (attempt >= 3) throw new AppError('unavailable', 'Your watchlist is changing; ask again in a moment');
        continue;
      }
      const found = begun.outcome === 'refused' || begun.outcome === 'reserved' ? begun.cached : undefined;
      if (cacheKey !== undefined) {
        clock.mark('cacheLookup');
        deps.answerCache!.recordLookup(found !== undefined);
        if (found) early.sawCacheEntry(cacheKey);
      }
      let conversationId: string;
      if (begun.outcome === 'reserved') {
        delivery.reserved = begun.reserved;
        early.sawBalance(user.userId, begun.balance);
        conversationId = begun.conversationId;
        clock.mark('reservation');
        clock.mark('accepted');
      } else {
        early.sawRefusal(user.userId);
        unused();
        const refused = reservationRefusal((begun as Extract<BeginOutcome, { outcome: 'refused' }>).reservation, sizing.minAmount);
        if (!(found && refused.code === 'insufficient_credits')) throw refused;
        // Too little for the provider, maybe enough for the cached answer: reserve exactly that, then store the question.
        await reserve(input, delivery, clock, { amount: cacheCost(found.text), minAmount: cacheCost(found.text) });
        conversationId = await recordQuestion(input, clock);
      }
      const cached = found && delivery.reserved >= cacheCost(found.text) ? found : undefined;
      if (cached) {
        unused();
        delivery.inputTokens = 0;
        return launch({ ...base, conversationId, source: { kind: 'cache', answer: cached } });
      }
      let stream: ProviderStream;
      if (sentEarly && delivery.reserved >= amount) {
        sentEarly.admit();
        deps.metrics?.chatEarlyStarts.inc({ outcome: 'used' });
        stream = sentEarly;
      } else {
        // A partial grant buys a shorter answer than the early call was capped for: it is asked again within the grant.
        unused();
        stream = startStream({ prompt, tools, delivery });
      }
      return launch({ ...base, conversationId, source: { kind: 'provider', stream, cacheKey } });
    }
  }

  /** Reserves the answer's credits; refuses (conflict, rate_limited, insufficient_credits) before anything is called. */
  async function reserve(input: StartChatInput, delivery: Delivery, clock: StageClock, sizing: { amount: number; minAmount: number }): Promise<void> {
    const { reserved } = await deps.ledger.reserve({
      userId: input.user.userId,
      requestId: input.id,
      instanceId: deps.instanceId,
      amount: sizing.amount,
      minAmount: sizing.minAmount,
      question: questionPreview(input.message),
    });
    delivery.reserved = reserved;
    clock.mark('reservation');
  }

  /**
   * Stores the question of a reserved answer: from then on the answer exists.
   * Should that fail (the conversation was deleted meanwhile), nothing was
   * delivered: the reservation is released.
   */
  async function recordQuestion(input: StartChatInput, clock: StageClock): Promise<string> {
    const { user, id } = input;
    const conversationId = await deps.conversations
      .recordQuestion({ userId: user.userId, conversationId: input.conversationId, requestId: id, text: input.message })
      .catch(async (err: unknown) => {
        await settleWithRetry({ userId: user.userId, requestId: id, cost: 0, provider: 'none', model: 'none', inputTokens: 0, outputTokens: 0, voiceCharacters: 0, estimated: false });
        throw err;
      });
    clock.mark('accepted');
    return conversationId;
  }

  /**
   * Starts the provider call of an answer; its deltas wait in the relay until
   * the answer runs. `early`: the reservation is still being made, and the
   * call goes no further than its first request until `admit()`.
   */
  function startStream(req: { prompt: Prompt; tools: ToolExecutors; delivery: Delivery; early?: boolean }): ProviderStream {
    const abort = new AbortController();
    const relay = createTokenRelay();
    let admission: { promise: Promise<void>; resolve(): void; reject(reason: unknown): void } | undefined;
    if (req.early) {
      let resolve!: () => void;
      let reject!: (reason: unknown) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => undefined);
      admission = { promise, resolve, reject };
    }
    const result = deps.router.stream({
      prompt: req.prompt,
      tools: req.tools,
      signal: abort.signal,
      maxOutputTokens: req.delivery.maxOutputTokens,
      budgetFor: (route) => budgetFor(req.delivery, route, admission?.promise),
      admitted: admission?.promise,
      onToken: relay.push,
    });
    // Observed by run(), or dropped with cancel(): never an unhandled rejection.
    result.catch(() => undefined);
    return {
      result,
      relay,
      abort,
      async cancel() {
        abort.abort();
        admission?.reject(new AppError('unavailable', 'the answer was not granted'));
        await result.catch(() => undefined);
      },
      admit: () => admission?.resolve(),
    };
  }

  /** Registers the accepted answer and runs it. */
  function launch(a: { input: StartChatInput; delivery: Delivery; clock: StageClock; receivedAt: number; conversationId: string; source: AnswerSource }): StartedAnswer {
    const { input, delivery, conversationId } = a;
    const answer = deps.registry.create(input.user.userId, input.id, input.sink);
    if (a.source.kind === 'provider') {
      const upstream = a.source.stream.abort;
      answer.abort.signal.addEventListener('abort', () => upstream.abort(answer.abort.signal.reason), { once: true });
    }
    deliveries.set(answer, delivery);
    const finished = run(answer, input, a.source, delivery, conversationId, a.clock, a.receivedAt)
      .catch((err: unknown) => {
        // No done can follow: tell every client following it (and the journal), and end it here.
        answer.sink.error({ id: input.id, code: 'internal', message: 'The answer failed' });
        answer.abandon();
        throw err;
      })
      .finally(() => {
        deliveries.delete(answer);
        running.delete(finished);
      });
    running.add(finished);
    return { answer, conversationId, finished };
  }

  /** Credits for what an answer has delivered so far (the settlement of a crash, see answers-in-flight.ts). */
  function progressOf(d: Delivery): AnswerProgress {
    if (!d.source) return { userId: d.userId, requestId: d.requestId, inputTokens: 0, outputTokens: 0, voiceCharacters: 0, charge: 0 };
    if (d.counted?.length !== d.text.length) d.counted = { length: d.text.length, tokens: estimateTokens(d.text) };
    const usage = { inputTokens: d.inputTokens, outputTokens: d.counted.tokens, voiceCharacters: d.voice?.charactersDelivered() ?? 0 };
    const voiceModel = usage.voiceCharacters > 0 ? d.voiceModel : undefined;
    const charge =
      d.source.provider === 'cache'
        ? deps.pricer.cachedAnswerCost(usage.voiceCharacters, voiceModel)
        : deps.pricer.priceOf(usage, d.source.provider as ProviderName, d.source.model, voiceModel);
    return { userId: d.userId, requestId: d.requestId, provider: d.source.provider, model: d.source.model, ...usage, charge };
  }

  /**
   * The output cap of a provider about to be tried: the longest answer the
   * reservation pays for there. A fallback to a provider the reservation does
   * not cover in full first extends it (under the ledger's profile lock) by
   * what the balance allows; undefined when not even a minimal answer fits.
   */
  async function budgetFor(delivery: Delivery, route: AnswerShape['route'], admitted?: Promise<void>): Promise<number | undefined> {
    const shape: AnswerShape = { route, inputTokens: delivery.inputTokens, voiceModel: delivery.voiceModel };
    const { maxOutputTokens } = delivery;
    const minimal = Math.min(MIN_ANSWER_OUTPUT_TOKENS, maxOutputTokens);
    let cap = deps.pricer.outputCapFor(shape, delivery.reserved, maxOutputTokens);
    if (cap < maxOutputTokens && admitted) {
      // An early call's cap is sized on the amount asked for; extending needs the reservation itself, and its granted amount.
      await admitted;
      cap = deps.pricer.outputCapFor(shape, delivery.reserved, maxOutputTokens);
    }
    if (cap < maxOutputTokens) {
      const full = deps.pricer.answerCost(shape, maxOutputTokens) - delivery.reserved;
      const least = Math.min(full, Math.max(1, deps.pricer.answerCost(shape, minimal) - delivery.reserved));
      const extension = await deps.ledger.extend({ userId: delivery.userId, requestId: delivery.requestId, amount: full, minAmount: least });
      delivery.reserved = extension.reserved;
      cap = deps.pricer.outputCapFor(shape, delivery.reserved, maxOutputTokens);
    }
    return cap >= minimal ? cap : undefined;
  }

  async function run(
    answer: LiveAnswer,
    input: StartChatInput,
    source: AnswerSource,
    delivery: Delivery,
    conversationId: string,
    clock: StageClock,
    receivedAt: number,
  ): Promise<ChatDoneEvent> {
    const { user, id } = input;
    const { sink, abort } = answer;
    const started = performance.now();
    // The caller acks the request before its first token goes out (held deltas are replayed at once below).
    await new Promise((resolve) => setImmediate(resolve));
    let seq = 0;
    let voice: VoiceStreamer | undefined;
    if (input.voice) {
      const opened = deps.voice.open({ signal: abort.signal, onAudio: (chunk) => sink.audio({ id, ...chunk }) });
      if (opened.ok) voice = delivery.voice = opened.streamer;
      else sink.error({ id, code: 'voice_unavailable', message: opened.error.message });
    }

    // The first token goes out at once (it is what the user waits for); later ones
    // arriving within one window are sent as one event. At hundreds of concurrent
    // streams a socket write per provider token is what saturates the CPU, so the
    // window widens with the answers this process is streaming (token-coalescing.ts).
    let pending = '';
    let flushTimer: NodeJS.Timeout | undefined;
    const flush = () => {
      clearTimeout(flushTimer);
      flushTimer = undefined;
      if (!pending) return;
      sink.token({ id, delta: pending, seq: seq++ });
      pending = '';
    };
    const emitToken = (delta: string) => {
      if (seq === 0 && !pending) {
        sink.token({ id, delta, seq: seq++ });
        clock.mark('firstEmit');
        clock.publish(id);
        return;
      }
      pending += delta;
      flushTimer ??= setTimeout(flush, coalesceWindowMs(deliveries.size, coalescing));
    };
    const onDelta: DeltaHandler = (delta, from) => {
      clock.mark('providerFirstToken');
      // The first delta goes out at once (emitToken, or one event per token): its time from the question is the answer's time to first token.
      if (!delivery.source) deps.metrics?.chatTtft.observe({ provider: from.provider }, (performance.now() - receivedAt) / 1000);
      delivery.source = from;
      delivery.text += delta;
      if (coalesceMs > 0) emitToken(delta);
      else sink.token({ id, delta, seq: seq++ });
      voice?.pushText(delta);
    };

    let result: Outcome | undefined;
    let cacheEntry: FinishInput['cache'];
    try {
      if (source.kind === 'cache') {
        const played = playCachedAnswer(source.answer, onDelta, abort.signal);
        result = {
          provider: 'cache',
          model: source.answer.model,
          usage: { inputTokens: 0, outputTokens: played.complete ? source.answer.outputTokens : estimateTokens(played.text), estimated: !played.complete },
          status: played.complete ? 'complete' : 'aborted',
        };
      } else {
        source.stream.relay.attach(onDelta);
        const streamed = await source.stream.result;
        result = streamed;
        if (source.cacheKey !== undefined && isWorthCaching(streamed)) cacheEntry = { key: source.cacheKey, text: streamed.text, ttlMs: deps.answerCache!.ttlMs };
      }
    } catch (err) {
      const code = err instanceof AppError ? err.code : 'internal';
      if (!(err instanceof AppError)) deps.log.error({ err, requestId: id, userId: user.userId }, 'chat: router failed');
      sink.error({ id, code, message: err instanceof AppError ? err.message : 'The answer failed' });
    }
    flush();
    const voiceSummary = voice ? await voice.end() : undefined;
    if (voiceSummary?.status === 'failed' && voiceSummary.error) sink.error({ id, code: 'voice_unavailable', message: voiceSummary.error.message });

    const delivered = seq > 0;
    const usage = {
      inputTokens: result?.usage.inputTokens ?? 0,
      outputTokens: result?.usage.outputTokens ?? 0,
      // The user pays for the voice they received; cache hits cost us nothing upstream.
      voiceCharacters: voiceSummary?.charactersDelivered ?? 0,
      estimated: result?.usage.estimated ?? false,
    };
    const provider = result?.provider ?? 'none';
    const model = result?.model ?? 'none';
    const voiceModel = usage.voiceCharacters > 0 ? delivery.voiceModel : undefined;
    // A request that delivered no token is not charged. The text's own price is kept apart, so the spend list can show what the voice added.
    const priceOf = (voiceCharacters: number) => {
      if (!delivered || !result) return 0;
      if (result.provider === 'cache') return deps.pricer.cachedAnswerCost(voiceCharacters, voiceCharacters > 0 ? voiceModel : undefined);
      return deps.pricer.priceOf({ ...usage, voiceCharacters }, result.provider as ProviderName, result.model, voiceCharacters > 0 ? voiceModel : undefined);
    };
    const cost = priceOf(usage.voiceCharacters);
    const textCost = priceOf(0);
    const status = result?.status ?? (abort.signal.aborted ? 'aborted' : 'incomplete');
    if (abort.signal.reason === SHUTDOWN) sink.error({ id, code: 'unavailable', message: 'Zmarty is restarting: this answer was stopped, and you pay only for what you received' });
    // One call: the settlement, the answer beside its question (stored before chat:done goes out, so a client that
    // reloads the conversation on done finds it) and the cache entry.
    const settlement = await withRetry(id, () =>
      answerPath.finish({ userId: user.userId, requestId: id, cost, textCost, provider, model, ...usage, text: delivery.text, status, cache: cacheEntry }),
    );
    if (settlement.answerFailure) deps.log.error({ err: settlement.answerFailure, requestId: id, userId: user.userId }, 'chat: storing the answer failed');
    if (settlement.cacheFailure) deps.log.warn({ err: settlement.cacheFailure, requestId: id }, 'chat: storing the answer in the cache failed');
    early.sawBalance(user.userId, settlement.balance);
    if (cacheEntry && !settlement.cacheFailure) {
      early.sawCacheEntry(cacheEntry.key);
      void deps.answerCache!.sweep();
    }
    const done: ChatDoneEvent = { id, provider, model, usage, credits: { charged: settlement.charged, balance: settlement.balance }, status, conversationId };
    deps.metrics?.chatRequests.inc({ provider, status });
    deps.metrics?.creditsCharged.inc({ provider }, settlement.charged);
    deps.log.info(
      { requestId: id, userId: user.userId, provider, model, status, ms: Math.round(performance.now() - started), charged: settlement.charged, ...usage },
      'chat: answer finished',
    );
    // The user's other sockets hear the new balance from the settlement's own notification (balance-push.ts).
    sink.done(done);
    return done;
  }

  // The reservation already holds the money; settling must not be lost to a passing database hiccup.
  async function withRetry<T>(requestId: string, settle: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await settle();
      } catch (err) {
        if (attempt >= 5) throw err;
        deps.log.warn({ err: (err as Error).message, requestId, attempt }, 'chat: settle failed; retrying');
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  const settleWithRetry = (input: Parameters<Ledger['settle']>[0]) => withRetry(input.requestId, () => deps.ledger.settle(input));

  return {
    start,
    /**
     * Settles once this instance has registered the answer it is starting with
     * this id (or failed to start it); undefined when it is starting none. A
     * client whose chat:send ack was lost with its connection sends it again
     * and resumes on the conflict, possibly before the first send is through.
     */
    startingAnswer(userId: string, id: string): Promise<unknown> | undefined {
      return starting.get(startingKey(userId, id))?.catch(() => undefined);
    },
    /** The answers this process is running and what each has delivered so far. */
    progress: (): AnswerProgress[] => [...deliveries.values()].map(progressOf),
    /**
     * Graceful shutdown: refuses new answers at once, lets the running ones
     * finish for up to `timeoutMs`, then aborts the rest; resolves once every
     * answer has been settled and its client told (`chat:error` unavailable,
     * then `chat:done` with status aborted).
     */
    async drain(timeoutMs: number): Promise<{ finished: number; aborted: number }> {
      accepting = false;
      await Promise.allSettled([...starting.values()]);
      const all = [...running];
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.allSettled(all).then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
      ]);
      clearTimeout(timer);
      const cut = timedOut ? [...deliveries.keys()].filter((a) => !a.finished) : [];
      for (const answer of cut) answer.abort.abort(SHUTDOWN);
      await Promise.allSettled([...running]);
      return { finished: all.length - cut.length, aborted: cut.length };
    },
    /** Stops an answer in progress: the upstream request is aborted at once. */
    abort(userId: string, id: string): boolean {
      const answer = deps.registry.get(userId, id);
      if (!answer || answer.finished) return false;
      answer.abort.abort();
      return true;
    },
  };
}

export type ChatService = ReturnType<typeof createChatService>;
