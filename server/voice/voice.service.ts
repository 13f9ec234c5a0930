/**
 * Voice for chat answers. One service per process: it owns the ElevenLabs
 * client and the audio cache (bounded LRU by entries and bytes) shared by
 * every answer. Without an API key voice is unavailable and `open` says so
 * with code 'voice_unavailable' — text chat is unaffected.
 *
 *   ELEVENLABS_API_KEY, ELEVENLABS_BASE_URL (https://api.elevenlabs.io),
 *   ELEVENLABS_VOICE_ID (21m00Tcm4TlvDq8ikWAM), ELEVENLABS_MODEL (eleven_flash_v2_5),
 *   ELEVENLABS_OUTPUT_FORMAT (mp3_44100_128)
 */
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { parseConfig } from '../../common/env';
import { createElevenLabsSynth, type SpeechSynth } from './elevenlabs.synth';
import { createVoiceStreamer, type AudioChunk, type VoiceStreamer } from './voice-streamer';

export interface VoiceOptions {
  apiKey?: string;
  baseUrl?: string;
  voiceId?: string;
  modelId?: string;
  outputFormat?: string;
  /** Cache bounds (defaults: 500 sentences, 32 MiB). */
  cacheMaxEntries?: number;
  cacheMaxBytes?: number;
  /** Sentences synthesised concurrently per answer (default 2). */
  concurrency?: number;
  timeoutMs?: number;
  retryDelayMs?: number;
}

export const VOICE_DEFAULTS = {
  baseUrl: 'https://api.elevenlabs.io',
  voiceId: '21m00Tcm4TlvDq8ikWAM',
  modelId: 'eleven_flash_v2_5',
  outputFormat: 'mp3_44100_128',
} as const;

export type OpenVoiceResult = { ok: true; streamer: VoiceStreamer } | { ok: false; error: { code: 'voice_unavailable'; message: string } };

export interface VoiceService {
  available: boolean;
  /** The ElevenLabs model in use (price-table key), when available. */
  modelId?: string;
  /** Starts speaking one answer; audio goes to `onAudio` in order, ending with a `final` chunk. */
  open(input: { onAudio: (chunk: AudioChunk) => void; signal?: AbortSignal }): OpenVoiceResult;
  cacheStats(): { entries: number; bytes: number };
}

export function createVoiceService(options: VoiceOptions = {}): VoiceService {
  if (!options.apiKey) {
    return {
      available: false,
      open: () => ({ ok: false, error: { code: 'voice_unavailable', message: 'Voice is not available: no ElevenLabs API key is configured.' } }),
      cacheStats: () => ({ entries: 0, bytes: 0 }),
    };
  }
  const synth: SpeechSynth = createElevenLabsSynth({
    apiKey: options.apiKey,
    baseUrl: options.baseUrl ?? VOICE_DEFAULTS.baseUrl,
    voiceId: options.voiceId ?? VOICE_DEFAULTS.voiceId,
    modelId: options.modelId ?? VOICE_DEFAULTS.modelId,
    outputFormat: options.outputFormat ?? VOICE_DEFAULTS.outputFormat,
    timeoutMs: options.timeoutMs,
  });
  const cache = new LRUCache<string, Uint8Array>({
    max: options.cacheMaxEntries ?? 500,
    maxSize: options.cacheMaxBytes ?? 32 * 1024 * 1024,
    sizeCalculation: (v) => Math.max(1, v.byteLength),
  });
  const inflight = new Map<string, Promise<Uint8Array>>();
  return {
    available: true,
    modelId: synth.modelId,
    open: ({ onAudio, signal }) => ({
      ok: true,
      streamer: createVoiceStreamer({ synth, cache, inflight, onAudio, signal, concurrency: options.concurrency, retryDelayMs: options.retryDelayMs }),
    }),
    cacheStats: () => ({ entries: cache.size, bytes: cache.calculatedSize }),
  };
}

const optional = z.string().trim().min(1).optional();
export const voiceEnvSchema = z.object({
  ELEVENLABS_API_KEY: optional,
  ELEVENLABS_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  ELEVENLABS_VOICE_ID: optional,
  ELEVENLABS_MODEL: optional,
  ELEVENLABS_OUTPUT_FORMAT: z.string().regex(/^(mp3|pcm|opus|ulaw|alaw)_\d+(_\d+)?$/, 'like mp3_44100_128').optional(),
});

/** Environment → VoiceOptions (empty strings count as unset). */
export function voiceOptionsFromEnv(env: Record<string, string | undefined>): VoiceOptions {
  const e = parseConfig(voiceEnvSchema, env);
  return { apiKey: e.ELEVENLABS_API_KEY, baseUrl: e.ELEVENLABS_BASE_URL, voiceId: e.ELEVENLABS_VOICE_ID, modelId: e.ELEVENLABS_MODEL, outputFormat: e.ELEVENLABS_OUTPUT_FORMAT };
}
