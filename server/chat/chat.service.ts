import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Db } from '../../common/db';
import { AppError } from '../../common/errors';
import type { ChatDoneEvent } from '../../common/events';
import type { Logger } from '../../common/logger';
import type { VerifiedUser } from '../auth/token-verifier';
import { buildPrompt } from '../context';
import type { Pricer } from '../credits/pricing';
import type { Metrics } from '../metrics/metrics';
import { estimatePromptTokens, TOOL_SPECS, type ModelRouter, type StreamResult } from '../router';
import type { VoiceService, VoiceStreamer } from '../voice';
import type { AnswerRegistry, ChatSink, LiveAnswer } from './answer-registry';
import { createToolExecutors, gatherContext } from './chat-context';
import type { Ledger } from './ledger';

export interface ChatServiceDeps {
  chatDb: Db;
  tradingDb: Db;
  ledger: Ledger;
  router: ModelRouter;
  pricer: Pricer;
  voice: VoiceService;
  registry: AnswerRegistry;
  log: Logger;
  metrics?: Metrics;
  /** Every socket of the user hears about their new balance. */
  onBalance?: (userId: string, balance: number) => void;
  maxOutputTokens?: number;
  /** Answers in progress per user (LibreChat's default is 2). */
  maxConcurrentPerUser?: number;
  /** Answers started per user per minute. */
  maxPerMinute?: number;
  /** The shared per-minute limiter (server/limits); a per-process one of maxPerMinute when absent. */
  perMinute?: RateLimiterAbstract;
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
}

/**
 * One answer, from request to charge: limits, context, reservation, the
 * model stream (and voice), settlement. `start` resolves once the answer is
 * accepted and credits are reserved (so the caller can ack), and `finished`
 * resolves after the `done` event.
 */
export function createChatService(deps: ChatServiceDeps) {
  const maxOutputTokens = deps.maxOutputTokens ?? 1024;
  const maxConcurrent = deps.maxConcurrentPerUser ?? 2;
  const perMinute = deps.perMinute ?? new RateLimiterMemory({ points: deps.maxPerMinute ?? 40, duration: 60 });
  const inFlight = new Map<string, number>();
  const now = deps.now ?? (() => new Date());
  const coalesceMs = deps.tokenCoalesceMs ?? 16;

  async function start(input: StartChatInput): Promise<{ answer: LiveAnswer; finished: Promise<ChatDoneEvent> }> {
    const { user, id } = input;
    const existing = deps.registry.get(user.userId, id);
    if (existing) {
      throw new AppError('conflict', existing.finished ? 'This request was already answered' : 'This request is already being answered; resume it instead');
    }
    if ((inFlight.get(user.userId) ?? 0) >= maxConcurrent) {
      throw new AppError('rate_limited', `At most ${maxConcurrent} answers at a time; wait for one to finish`);
    }
    await perMinute.consume(user.userId).catch((res: { msBeforeNext?: number }) => {
      const seconds = Math.ceil((res.msBeforeNext ?? 60_000) / 1000);
      throw new AppError('rate_limited', `Too many questions; try again in ${seconds} s`, { headers: { 'Retry-After': String(seconds) } });
    });
    inFlight.set(user.userId, (inFlight.get(user.userId) ?? 0) + 1);
    try {
      const context = await gatherContext(deps, user);
      const prompt = buildPrompt({ userMessage: input.message, symbols: context.symbols, market: context.market, now: now(), toolsAvailable: true });
      const wantsVoice = input.voice && deps.voice.available;
      const reservation = await deps.ledger.reserve({
        userId: user.userId,
        requestId: id,
        amount: deps.pricer.minimumReserve({
          candidates: deps.router.configured(),
          inputTokens: estimatePromptTokens({ system: prompt.system, messages: prompt.messages, tools: TOOL_SPECS }),
          maxOutputTokens,
          voiceModel: wantsVoice ? deps.voice.modelId : undefined,
        }),
      });
      if (reservation.settled) throw new AppError('conflict', 'This request was already answered');
      const answer = deps.registry.create(user.userId, id, input.sink);
      const finished = run(answer, input, prompt, wantsVoice).finally(() => release(user.userId));
      return { answer, finished };
    } catch (err) {
      release(user.userId);
      throw err;
    }
  }

  function release(userId: string) {
    const n = (inFlight.get(userId) ?? 1) - 1;
    if (n <= 0) inFlight.delete(userId);
    else inFlight.set(userId, n);
  }

  async function run(answer: LiveAnswer, input: StartChatInput, prompt: ReturnType<typeof buildPrompt>, wantsVoice: boolean): Promise<ChatDoneEvent> {
    const { user, id } = input;
    const { sink, abort } = answer;
    const started = performance.now();
    let seq = 0;
    let voice: VoiceStreamer | undefined;
    if (input.voice) {
      const opened = deps.voice.open({ signal: abort.signal, onAudio: (chunk) => sink.audio({ id, ...chunk }) });
      if (opened.ok) voice = opened.streamer;
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
        tools: createToolExecutors(deps, user),
        signal: abort.signal,
        maxOutputTokens,
        onToken: (delta) => {
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
    const settlement = await settleWithRetry({ userId: user.userId, requestId: id, cost, provider, model, ...usage });
    const status = result?.status ?? (abort.signal.aborted ? 'aborted' : 'incomplete');
    const done: ChatDoneEvent = { id, provider, model, usage, credits: settlement, status };
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
