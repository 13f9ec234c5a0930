/**
 * Loopback ElevenLabs text-to-speech server:
 * `POST /v1/text-to-speech/{voice_id}/stream?output_format=…` with header
 * `xi-api-key` and body `{text, model_id, voice_settings}` → audio bytes.
 * The audio is fake but deterministic and decodable: silent MPEG-1 Layer III
 * frames whose ancillary bytes derive from voice, model and text (see
 * `fakeMp3`). Errors use ElevenLabs' shape `{"detail":{"status","message"}}`.
 * Give `mock.url` to the SDK as `baseUrl`.
 */
import { createHash } from 'node:crypto';
import { startMockHttp, type MockControl, type RecordedRequest, type ResponseContext } from './mock-http';

export type MockTtsFault =
  | { type: 'status'; status: number; detailStatus?: string; message?: string; retryAfter?: number }
  | { type: 'reset' }
  /** Socket destroyed after N audio chunks. */
  | { type: 'cut'; afterChunks: number };

export interface MockTtsReply {
  fault?: MockTtsFault;
  firstChunkDelayMs?: number;
  chunkDelayMs?: number;
  /** MP3 frames per written chunk (default 2). */
  framesPerChunk?: number;
}

export interface MockElevenLabsOptions {
  reply?: MockTtsReply | ((request: RecordedRequest, index: number) => MockTtsReply | Promise<MockTtsReply>);
  /** When set, `xi-api-key` must match (else 401 invalid_api_key). */
  apiKey?: string;
  chunkDelayMs?: number;
  firstChunkDelayMs?: number;
}

export interface MockElevenLabs extends MockControl<MockTtsReply> {
  /** Requests being answered right now, and the most ever at once (to observe overlap). */
  concurrency(): { active: number; max: number };
}

const FRAME_BYTES = 417; // 128 kbit/s, 44.1 kHz, no padding
const FRAME_HEADER = [0xff, 0xfb, 0x90, 0x64];
// Joint-stereo side info, all zero: no main data, so a real decoder (browsers
// included) plays each frame as 26 ms of silence; the rest is ancillary data.
const SIDE_INFO_BYTES = 32;

/** The bytes the mock returns for this text, voice and model: one frame per ~16 characters. */
export function fakeMp3(input: { text: string; voiceId: string; modelId?: string }): Uint8Array {
  const frames = Math.max(1, Math.ceil(input.text.length / 16));
  const out = new Uint8Array(frames * FRAME_BYTES);
  for (let f = 0; f < frames; f++) {
    const base = f * FRAME_BYTES;
    out.set(FRAME_HEADER, base);
    let filled = FRAME_HEADER.length + SIDE_INFO_BYTES;
    let block = 0;
    while (filled < FRAME_BYTES) {
      const digest = createHash('sha256').update(`${input.voiceId}|${input.modelId ?? ''}|${input.text}|${f}|${block++}`).digest();
      const take = Math.min(digest.length, FRAME_BYTES - filled);
      out.set(digest.subarray(0, take), base + filled);
      filled += take;
    }
  }
  return out;
}

const ROUTE = /^\/v1\/text-to-speech\/([^/]+)\/stream$/;

export async function startMockElevenLabs(options: MockElevenLabsOptions = {}): Promise<MockElevenLabs> {
  let active = 0;
  let max = 0;
  const control = await startMockHttp<MockTtsReply>({
    match: (method, path) => method === 'POST' && ROUTE.test(path),
    defaultReply: options.reply ?? {},
    notFound: (ctx) => ctx.json(404, { detail: { status: 'not_found', message: 'Not found' } }),
    precheck: (ctx) => {
      if (options.apiKey && ctx.record.headers['xi-api-key'] !== options.apiKey) {
        ctx.json(401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
        return true;
      }
      if (typeof ctx.record.body?.text !== 'string' || ctx.record.body.text.length === 0) {
        ctx.json(422, { detail: [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }] });
        return true;
      }
      return false;
    },
    handle: async (ctx, reply) => {
      active += 1;
      max = Math.max(max, active);
      try {
        await respond(ctx, { chunkDelayMs: options.chunkDelayMs, firstChunkDelayMs: options.firstChunkDelayMs, ...reply });
      } finally {
        active -= 1;
      }
    },
  });
  return { ...control, concurrency: () => ({ active, max }) };
}

async function respond(ctx: ResponseContext, reply: MockTtsReply): Promise<void> {
  const fault = reply.fault;
  if (fault?.type === 'reset') return ctx.cut();
  if (fault?.type === 'status') {
    const detailStatus = fault.detailStatus ?? (fault.status === 429 ? 'too_many_concurrent_requests' : fault.status === 401 ? 'quota_exceeded' : 'internal_error');
    return ctx.json(
      fault.status,
      { detail: { status: detailStatus, message: fault.message ?? `mock ${detailStatus}` } },
      fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {},
    );
  }
  const voiceId = decodeURIComponent(ROUTE.exec(ctx.record.path)![1]!);
  const format = ctx.record.query.output_format ?? 'mp3_44100_128';
  const audio = fakeMp3({ text: ctx.record.body.text, voiceId, modelId: ctx.record.body.model_id });
  const chunkBytes = FRAME_BYTES * (reply.framesPerChunk ?? 2);

  ctx.res.writeHead(200, {
    'content-type': format.startsWith('mp3') ? 'audio/mpeg' : 'application/octet-stream',
    'request-id': `tts_${Date.now().toString(36)}`,
    'x-character-count': String(ctx.record.body.text.length),
  });
  ctx.res.flushHeaders();
  if (!(await ctx.sleep(reply.firstChunkDelayMs ?? 0))) return;
  let chunks = 0;
  for (let offset = 0; offset < audio.length; offset += chunkBytes) {
    if (fault?.type === 'cut' && chunks === fault.afterChunks) return ctx.cut();
    if (chunks > 0 && !(await ctx.sleep(reply.chunkDelayMs ?? 0))) return;
    if (!ctx.write(audio.subarray(offset, offset + chunkBytes))) return;
    ctx.countUnit();
    chunks += 1;
  }
  ctx.res.end();
}
