import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import type { ChatDoneEvent } from '../../common/events';
import type { Logger } from '../../common/logger';
import type { VerifiedUser } from '../auth/token-verifier';
import { buildPrompt } from '../context';
import { MIN_ANSWER_OUTPUT_TOKENS, type AnswerShape, type Pricer } from '../credits/pricing';
import type { Metrics } from '../metrics/metrics';
import { estimatePromptTokens, estimateTokens, TOOL_SPECS, type ModelRouter, type ProviderName, type StreamResult } from '../router';
import type { VoiceService, VoiceStreamer } from '../voice';
import type { AnswerRegistry, ChatSink, LiveAnswer } from './answer-registry';
import { createToolExecutors, gatherContext } from './chat-context';
import type { ToolExecutors } from '../router';
import type { AnswerProgress } from '../credits/answers-in-flight';
import type { Ledger } from '../credits/ledger';
import type { Conversations } from '../conversations/conversations.store';
import type { Tiers } from '../tiers/tiers';

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
  log: Logger;
  /** This process, as recorded on the reservations of the answers it runs. */
  instanceId: string;
  metrics?: Metrics;
  /** Every socket of the user hears about their new balance. */
  onBalance?: (userId: string, balance: number) => void;
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
  source?: { provider: ProviderName; model: string };
  text: string;
  voice?: VoiceStreamer;
  counted?: { length: number; tokens: number };
  /** Credits held for the answer (the reservation and any extension for a fallback). */
  reserved: number;
  /** The output budget of the user's tier. */
  maxOutputTokens: number;
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
  const deliveries = new Map<LiveAnswer, Delivery>();
  const running = new Set<Promise<ChatDoneEvent>>();
  // Accepted requests still gathering context or reserving: a drain waits for them to become answers.
  const starting = new Set<Promise<unknown>>();
  let accepting = true;

  function start(input: StartChatInput): Promise<StartedAnswer> {
    if (!accepting) return Promise.reject(new AppError('unavailable', 'Zmarty is restarting; ask again in a moment'));
    const started = begin(input);
    starting.add(started);
    void started.catch(() => undefined).finally(() => starting.delete(started));
    return started;
  }

  async function begin(input: StartChatInput): Promise<StartedAnswer> {
    const { user, id } = input;
    // A fast answer for the common retry; the reservation below is what decides, across instances.
    const existing = deps.registry.get(user.userId, id);
    if (existing) {
      throw new AppError('conflict', existing.finished ? 'This request was already answered' : 'This request is already being answered; resume it instead');
    }
    const tier = await deps.tiers.forUser(user.userId);
    if (input.voice && !tier.voiceAllowed) throw new AppError('forbidden', `Spoken answers are not included in the ${tier.tier} tier; ask without voice`);
    const maxOutputTokens = tier.maxOutputTokens;
    await deps.perMinute(tier.chatPerMinute).consume(user.userId).catch((res: unknown) => {
      if (res instanceof Error) throw res;
      const seconds = Math.ceil(((res as { msBeforeNext?: number }).msBeforeNext ?? 60_000) / 1000);
      throw new AppError('rate_limited', `Too many questions; try again in ${seconds} s`, { headers: { 'Retry-After': String(seconds) } });
    });
    // Earlier turns come from the database (never from the client); a conversation that is not the user's is not_found here, before any charge.
    const [context, history] = await Promise.all([
      gatherContext(deps, user),
      input.conversationId === undefined ? [] : deps.conversations.history(user, input.conversationId),
    ]);
    const prompt = buildPrompt({ userMessage: input.message, symbols: context.symbols, market: context.market, account: context.account, now: now(), toolsAvailable: true, history });
    const wantsVoice = input.voice && deps.voice.available;
    const voiceModel = wantsVoice ? deps.voice.modelId : undefined;
    const inputTokens = estimatePromptTokens({ system: prompt.system, messages: prompt.messages, tools: TOOL_SPECS });
    const tools = createToolExecutors(deps, user);
    // Sized for the provider that will be tried first, not the priciest one: a fallback extends it (see budgetFor).
    // A balance short of the full budget still buys a shorter answer; only one below a minimal answer is refused.
    const planned = deps.router.plan({ prompt, tools });
    const { amount, minAmount } = deps.pricer.reservationFor({ route: planned, inputTokens, voiceModel }, maxOutputTokens);
    const { reserved } = await deps.ledger.reserve({
      userId: user.userId,
      requestId: id,
      instanceId: deps.instanceId,
      amount,
      minAmount,
      question: questionPreview(input.message),
    });
    // Accepted: the question is stored now. Should that fail (the conversation was deleted meanwhile), nothing was delivered: release the reservation.
    const conversationId = await deps.conversations
      .recordQuestion({ userId: user.userId, conversationId: input.conversationId, requestId: id, text: input.message })
      .catch(async (err: unknown) => {
        await settleWithRetry({ userId: user.userId, requestId: id, cost: 0, provider: 'none', model: 'none', inputTokens: 0, outputTokens: 0, voiceCharacters: 0, estimated: false });
        throw err;
      });
    const answer = deps.registry.create(user.userId, id, input.sink);
    const delivery: Delivery = { userId: user.userId, requestId: id, inputTokens, voiceModel, text: '', reserved, maxOutputTokens };
    deliveries.set(answer, delivery);
    const finished = run(answer, input, prompt, tools, delivery, conversationId).finally(() => {
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
    const charge = deps.pricer.priceOf(usage, d.source.provider, d.source.model, usage.voiceCharacters > 0 ? d.voiceModel : undefined);
    return { userId: d.userId, requestId: d.requestId, provider: d.source.provider, model: d.source.model, ...usage, charge };
  }

  /**
   * The output cap of a provider about to be tried: the longest answer the
   * reservation pays for there. A fallback to a provider the reservation does
   * not cover in full first extends it (under the ledger's profile lock) by
   * what the balance allows; undefined when not even a minimal answer fits.
   */
  async function budgetFor(delivery: Delivery, route: AnswerShape['route']): Promise<number | undefined> {
    const shape: AnswerShape = { route, inputTokens: delivery.inputTokens, voiceModel: delivery.voiceModel };
    const { maxOutputTokens } = delivery;
    const minimal = Math.min(MIN_ANSWER_OUTPUT_TOKENS, maxOutputTokens);
    let cap = deps.pricer.outputCapFor(shape, delivery.reserved, maxOutputTokens);
    if (cap < maxOutputTokens) {
      const full = deps.pricer.answerCost(shape, maxOutputTokens) - delivery.reserved;
      const least = Math.min(full, Math.max(1, deps.pricer.answerCost(shape, minimal) - delivery.reserved));
      const extension = await deps.ledger.extend({ userId: delivery.userId, requestId: delivery.requestId, amount: full, minAmount: least });
      delivery.reserved = extension.reserved;
      if (extension.added > 0) deps.onBalance?.(delivery.userId, extension.balance);
      cap = deps.pricer.outputCapFor(shape, delivery.reserved, maxOutputTokens);
    }
    return cap >= minimal ? cap : undefined;
  }

  async function run(
    answer: LiveAnswer,
    input: StartChatInput,
    prompt: ReturnType<typeof buildPrompt>,
    tools: ToolExecutors,
    delivery: Delivery,
    conversationId: string,
  ): Promise<ChatDoneEvent> {
    const { user, id } = input;
    const { sink, abort } = answer;
    const wantsVoice = delivery.voiceModel !== undefined;
    const started = performance.now();
    let seq = 0;
    let voice: VoiceStreamer | undefined;
    if (input.voice) {
      const opened = deps.voice.open({ signal: abort.signal, onAudio: (chunk) => sink.audio({ id, ...chunk }) });
      if (opened.ok) voice = delivery.voice = opened.streamer;
      else sink.error({ id, code: 'voice_unavailable', message: opened.error.message });
    }

    // The first token goes out at once (it is what the user waits for); later ones
    // arriving within one frame are sent as one event. At hundreds of concurrent
    // streams a socket write per provider token is what saturates the CPU.
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
        deps.metrics?.chatTtft.observe({ provider: 'any' }, (performance.now() - started) / 1000);
        sink.token({ id, delta, seq: seq++ });
        return;
      }
      pending += delta;
      flushTimer ??= setTimeout(flush, coalesceMs);
    };

    let result: StreamResult | undefined;
    try {
      result = await deps.router.stream({
        prompt,
        tools,
        signal: abort.signal,
        maxOutputTokens: delivery.maxOutputTokens,
        budgetFor: (route) => budgetFor(delivery, route),
        onToken: (delta, source) => {
          delivery.source = source;
          delivery.text += delta;
          if (coalesceMs > 0) emitToken(delta);
          else sink.token({ id, delta, seq: seq++ });
          voice?.pushText(delta);
        },
      });
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
    // A request that delivered no token is not charged.
    const cost =
      delivered && result
        ? deps.pricer.priceOf(usage, result.provider, result.model, usage.voiceCharacters > 0 && wantsVoice ? deps.voice.modelId : undefined)
        : 0;
    // The text's own price, so the spend list can show what the voice added.
    const textCost = delivered && result ? deps.pricer.priceOf({ inputTokens: usage.inputTokens, outputTokens: usage.outputTokens }, result.provider, result.model) : 0;
    const settlement = await settleWithRetry({ userId: user.userId, requestId: id, cost, textCost, provider, model, ...usage });
    const status = result?.status ?? (abort.signal.aborted ? 'aborted' : 'incomplete');
    if (abort.signal.reason === SHUTDOWN) sink.error({ id, code: 'unavailable', message: 'Zmarty is restarting: this answer was stopped, and you pay only for what you received' });
    // Stored before chat:done goes out, so a client that reloads the conversation on done finds the answer.
    await deps.conversations
      .recordAnswer({ userId: user.userId, requestId: id, text: delivery.text, provider, model, status, ...usage, credits: settlement.charged })
      .catch((err: unknown) => deps.log.error({ err, requestId: id, userId: user.userId }, 'chat: storing the answer failed'));
    const done: ChatDoneEvent = { id, provider, model, usage, credits: settlement, status, conversationId };
    deps.metrics?.chatRequests.inc({ provider, status });
    deps.metrics?.creditsCharged.inc({ provider }, settlement.charged);
    deps.log.info(
      { requestId: id, userId: user.userId, provider, model, status, ms: Math.round(performance.now() - started), charged: settlement.charged, ...usage },
      'chat: answer finished',
    );
    sink.done(done);
    deps.onBalance?.(user.userId, settlement.balance);
    return done;
  }

  // The reservation already holds the money; settling must not be lost to a passing database hiccup.
  async function settleWithRetry(input: Parameters<Ledger['settle']>[0]) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await deps.ledger.settle(input);
      } catch (err) {
        if (attempt >= 5) throw err;
        deps.log.warn({ err: (err as Error).message, requestId: input.requestId, attempt }, 'chat: settle failed; retrying');
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  return {
    start,
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
      await Promise.allSettled([...starting]);
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
