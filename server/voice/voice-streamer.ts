/**
 * Speaks an answer sentence by sentence. Sentences are synthesised with
 * bounded look-ahead (sentence n+1 may be in flight while n is playing), but
 * audio is emitted strictly in sentence order, then one final empty chunk
 * with `final: true`. A sentence already synthesised (same text, voice,
 * model, format) comes from the shared LRU cache, or joins the request in
 * flight, without a second upstream call.
 *
 * Billing: `charactersDelivered` counts the characters whose audio reached
 * the client (cache hits included), `charactersBilledUpstream` what
 * ElevenLabs charged us (accepted requests only). The caller decides which
 * to charge the user.
 */
import type { LRUCache } from 'lru-cache';
import { toVoiceError, type SpeechSynth, type VoiceError } from './elevenlabs.synth';
import { createSentenceChunker, toSpeakable } from './sentence-chunker';

export interface AudioChunk {
  seq: number;
  mime: string;
  /** Empty together with `final: true`. */
  data: Uint8Array;
  final?: boolean;
}

export interface VoiceSummary {
  status: 'complete' | 'aborted' | 'failed';
  sentences: number;
  charactersDelivered: number;
  charactersBilledUpstream: number;
  cacheHits: number;
  error?: { code: 'voice_unavailable'; message: string; status?: number; detailStatus?: string };
}

export interface VoiceStreamer {
  /** Queues one sentence (spoken in push order). */
  push(sentence: string): void;
  /** Feeds answer text deltas; complete sentences are queued as they close. */
  pushText(delta: string): void;
  /** No more text: resolves after the last audio and the final marker were emitted. */
  end(): Promise<VoiceSummary>;
  /** Characters whose audio reached the client so far (what a crash-time settlement may charge). */
  charactersDelivered(): number;
}

export interface VoiceStreamerDeps {
  synth: SpeechSynth;
  cache: LRUCache<string, Uint8Array>;
  /** Requests in flight by cache key, shared by all streamers of a service. */
  inflight: Map<string, Promise<Uint8Array>>;
  onAudio: (chunk: AudioChunk) => void;
  signal?: AbortSignal;
  /** Sentences synthesised ahead of the one playing (default 2, i.e. n and n+1). */
  concurrency?: number;
  /** Retries of a retryable failure (429, 5xx, connection) per sentence (default 1). */
  retries?: number;
  retryDelayMs?: number;
}

interface Job {
  text: string;
  chunks: Uint8Array[];
  done: boolean;
  error?: VoiceError;
  started: boolean;
}

export function cacheKey(synth: Pick<SpeechSynth, 'voiceId' | 'modelId' | 'outputFormat'>, text: string): string {
  return `${synth.voiceId}\u0000${synth.modelId}\u0000${synth.outputFormat}\u0000${text}`;
}

export function createVoiceStreamer(deps: VoiceStreamerDeps): VoiceStreamer {
  const { synth, cache, inflight } = deps;
  const concurrency = Math.max(1, deps.concurrency ?? 2);
  const signal = deps.signal ?? new AbortController().signal;
  const chunker = createSentenceChunker();
  const jobs: Job[] = [];
  let ended = false;
  let seq = 0;
  let head = 0; // the job whose audio is being emitted
  let failed: VoiceError | undefined;
  const summary = { sentences: 0, charactersDelivered: 0, charactersBilledUpstream: 0, cacheHits: 0 };
  let wakeEmitter: (() => void) | undefined;
  const poke = () => wakeEmitter?.();

  const synthesize = async (job: Job) => {
    const key = cacheKey(synth, job.text);
    const cached = cache.get(key);
    const shared = cached ? undefined : inflight.get(key);
    try {
      if (cached) {
        job.chunks.push(cached);
        summary.cacheHits += 1;
        return;
      }
      // Joining another streamer's request; if that one fails (or its caller aborted), fetch ourselves.
      const joined = shared ? await shared.catch(() => undefined) : undefined;
      if (joined) {
        job.chunks.push(joined);
        summary.cacheHits += 1;
        return;
      }
      const whole = fetchAudio(job, key);
      inflight.set(key, whole);
      // Joiners get the bytes; this job streams them as they come (see fetchAudio).
      await whole.finally(() => inflight.delete(key));
    } catch (err) {
      job.error = toVoiceError(err);
    } finally {
      job.done = true;
      poke();
    }
  };

  const fetchAudio = async (job: Job, key: string): Promise<Uint8Array> => {
    for (let attempt = 0; ; attempt++) {
      const received: Uint8Array[] = [];
      try {
        const audio = await synth.stream(job.text, signal);
        summary.charactersBilledUpstream += job.text.length;
        for await (const bytes of audio) {
          received.push(bytes);
          job.chunks.push(bytes);
          poke();
        }
        if (signal.aborted) throw toVoiceError(new Error('aborted'));
        const whole = concat(received);
        cache.set(key, whole);
        return whole;
      } catch (err) {
        const e = toVoiceError(err);
        // A retry after bytes were emitted would repeat audio; give up on the sentence instead.
        const emittedAny = received.length > 0;
        if (signal.aborted || !e.retryable || emittedAny || attempt >= (deps.retries ?? 1)) throw e;
        await new Promise((r) => setTimeout(r, deps.retryDelayMs ?? 250));
      }
    }
  };

  const schedule = () => {
    if (failed || signal.aborted) return;
    for (let i = head; i < jobs.length && i < head + concurrency; i++) {
      const job = jobs[i]!;
      if (!job.started) {
        job.started = true;
        void synthesize(job);
      }
    }
  };

  const emitter = (async (): Promise<VoiceSummary> => {
    let sent = 0; // chunks of the head job already emitted
    for (;;) {
      if (signal.aborted) break;
      const job = jobs[head];
      if (!job) {
        if (ended) break;
        await new Promise<void>((r) => (wakeEmitter = r));
        continue;
      }
      while (sent < job.chunks.length) deps.onAudio({ seq: seq++, mime: synth.mime, data: job.chunks[sent++]! });
      if (!job.done) {
        await new Promise<void>((r) => (wakeEmitter = r));
        continue;
      }
      if (job.error) {
        failed = job.error;
        break;
      }
      summary.sentences += 1;
      summary.charactersDelivered += job.text.length;
      head += 1;
      sent = 0;
      schedule();
    }
    deps.onAudio({ seq: seq++, mime: synth.mime, data: new Uint8Array(0), final: true });
    const status = signal.aborted ? 'aborted' : failed ? 'failed' : 'complete';
    return {
      status,
      ...summary,
      ...(failed && !signal.aborted
        ? {
            error: {
              code: 'voice_unavailable' as const,
              message: `Voice stopped: ${failed.message}`,
              ...(failed.status !== undefined ? { status: failed.status } : {}),
              ...(failed.detailStatus ? { detailStatus: failed.detailStatus } : {}),
            },
          }
        : {}),
    };
  })();
  signal.addEventListener('abort', poke, { once: true });

  const push = (sentence: string) => {
    if (ended) throw new Error('voice streamer already ended');
    const text = toSpeakable(sentence);
    if (text.length === 0 || failed || signal.aborted) return;
    jobs.push({ text, chunks: [], done: false, started: false });
    schedule();
    poke();
  };

  return {
    push,
    pushText: (delta) => {
      for (const s of chunker.push(delta)) push(s);
    },
    end: () => {
      if (!ended) {
        for (const s of chunker.flush()) push(s);
        ended = true;
        poke();
      }
      return emitter;
    },
    charactersDelivered: () => summary.charactersDelivered,
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
