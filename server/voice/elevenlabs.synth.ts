/**
 * ElevenLabs text-to-speech through the official SDK (v2):
 * `textToSpeech.stream(voiceId, { text, modelId, outputFormat })` — camelCase
 * keys; the SDK turns them into `model_id` / `output_format` on the wire
 * (snake_case keys would be silently dropped). SDK retries are off: the
 * voice streamer decides.
 */
import { ElevenLabsClient, ElevenLabsError, type ElevenLabs } from '@elevenlabs/elevenlabs-js';

export interface SpeechSynth {
  voiceId: string;
  modelId: string;
  outputFormat: string;
  /** MIME type of the audio bytes, for the client's player. */
  mime: string;
  /** Resolves once the provider accepted the request (its characters are then billed); yields audio bytes. */
  stream(text: string, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>>;
}

export interface ElevenLabsSynthOptions {
  apiKey: string;
  /** Default https://api.elevenlabs.io (no /v1). */
  baseUrl?: string;
  voiceId: string;
  modelId: string;
  outputFormat: string;
  timeoutMs?: number;
}

/** A synthesis failure, with the ElevenLabs `detail.status` when there was one. */
export class VoiceError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly detailStatus: string | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'VoiceError';
  }
}

export function mimeFor(outputFormat: string): string {
  if (outputFormat.startsWith('mp3')) return 'audio/mpeg';
  if (outputFormat.startsWith('opus')) return 'audio/ogg';
  if (outputFormat.startsWith('pcm')) return `audio/L16;rate=${outputFormat.split('_')[1] ?? '16000'}`;
  if (outputFormat.startsWith('ulaw')) return 'audio/basic';
  return 'application/octet-stream';
}

export function createElevenLabsSynth(options: ElevenLabsSynthOptions): SpeechSynth {
  const client = new ElevenLabsClient({
    apiKey: options.apiKey,
    baseUrl: options.baseUrl ?? 'https://api.elevenlabs.io',
    maxRetries: 0,
    timeoutInSeconds: Math.ceil((options.timeoutMs ?? 30_000) / 1000),
  });
  return {
    voiceId: options.voiceId,
    modelId: options.modelId,
    outputFormat: options.outputFormat,
    mime: mimeFor(options.outputFormat),
    stream: async (text, signal) => {
      let body: ReadableStream<Uint8Array>;
      try {
        body = await client.textToSpeech.stream(
          options.voiceId,
          { text, modelId: options.modelId, outputFormat: options.outputFormat as ElevenLabs.TextToSpeechStreamRequestOutputFormat },
          { abortSignal: signal, maxRetries: 0 },
        );
      } catch (err) {
        throw toVoiceError(err);
      }
      return readAll(body);
    },
  };
}

async function* readAll(body: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        throw toVoiceError(err);
      }
      if (next.done) return;
      if (next.value.byteLength > 0) yield next.value;
    }
  } finally {
    // On early exit (abort), cancelling the body closes the upstream connection.
    reader.cancel().catch(() => {});
  }
}

export function toVoiceError(err: unknown): VoiceError {
  if (err instanceof VoiceError) return err;
  if (err instanceof ElevenLabsError && err.statusCode !== undefined) {
    const detail = (err.body as { detail?: { status?: string; message?: string } } | undefined)?.detail;
    const status = err.statusCode;
    const retryable = status === 429 || status >= 500;
    return new VoiceError(detail?.message ?? `ElevenLabs answered ${status}`, status, detail?.status, retryable);
  }
  // Timeouts, resets, a cut body: worth one more try.
  return new VoiceError(err instanceof Error ? err.message : String(err), undefined, undefined, true);
}
