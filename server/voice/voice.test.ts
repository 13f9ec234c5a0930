import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fakeMp3, startMockElevenLabs, type MockElevenLabs } from '../../test/mock-providers';
import type { AudioChunk } from './voice-streamer';
import { createVoiceService, voiceOptionsFromEnv, type VoiceOptions } from './voice.service';

let mock: MockElevenLabs;
beforeAll(async () => {
  mock = await startMockElevenLabs({ apiKey: 'xi-test' });
});
afterAll(() => mock.close());
afterEach(() => mock.reset());

const VOICE = { apiKey: 'xi-test', voiceId: 'voice-1', modelId: 'eleven_flash_v2_5', retryDelayMs: 5 };
const service = (extra: Partial<VoiceOptions> = {}) => createVoiceService({ ...VOICE, baseUrl: mock.url, ...extra });
const audioOf = (text: string) => fakeMp3({ text, voiceId: 'voice-1', modelId: 'eleven_flash_v2_5' });

function concat(chunks: AudioChunk[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.data)));
}

async function speak(voice: ReturnType<typeof service>, sentences: string[], signal?: AbortSignal) {
  const chunks: AudioChunk[] = [];
  const opened = voice.open({ onAudio: (c) => chunks.push(c), signal });
  if (!opened.ok) throw new Error(opened.error.message);
  for (const s of sentences) opened.streamer.push(s);
  const summary = await opened.streamer.end();
  return { chunks, summary };
}

const S1 = 'Bitcoin is trading at 97,500.50 right now, and the signal is long.';
const S2 = 'Stop at 96,000.';
const S3 = 'Take profit at 100,500.';

describe('voice streamer', () => {
  it('overlaps synthesis but emits audio strictly in sentence order, then a final marker', async () => {
    // Sentence 1 is slow to start; 2 and 3 finish first upstream.
    mock.script({ firstChunkDelayMs: 150, chunkDelayMs: 10 }, {}, {});
    const { chunks, summary } = await speak(service({ concurrency: 3 }), [S1, S2, S3]);

    expect(mock.concurrency().max).toBeGreaterThanOrEqual(2);
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    const last = chunks.at(-1)!;
    expect(last).toEqual({ seq: chunks.length - 1, mime: 'audio/mpeg', data: new Uint8Array(0), final: true });
    expect(concat(chunks.slice(0, -1)).equals(Buffer.concat([audioOf(S1), audioOf(S2), audioOf(S3)]))).toBe(true);
    expect(summary).toEqual({
      status: 'complete',
      sentences: 3,
      charactersDelivered: S1.length + S2.length + S3.length,
      charactersBilledUpstream: S1.length + S2.length + S3.length,
      cacheHits: 0,
    });

    // Wire format produced by the SDK from camelCase options.
    const req = mock.requests.find((r) => r.body.text === S1)!;
    expect(req.path).toBe('/v1/text-to-speech/voice-1/stream');
    expect(req.query.output_format).toBe('mp3_44100_128');
    expect(req.body).toMatchObject({ text: S1, model_id: 'eleven_flash_v2_5' });
    expect(req.headers['xi-api-key']).toBe('xi-test');
  });

  it('streams text deltas through the sentence chunker and speaks pairs as words', async () => {
    const voice = service();
    const chunks: AudioChunk[] = [];
    const opened = voice.open({ onAudio: (c) => chunks.push(c) });
    if (!opened.ok) throw new Error('unavailable');
    for (const delta of ['**BTC/USDT** is at 97,', '500.50. Next', ' target 100k']) opened.streamer.pushText(delta);
    const summary = await opened.streamer.end();
    expect(mock.requests.map((r) => r.body.text)).toEqual(['BTC USDT is at 97,500.50.', 'Next target 100k']);
    expect(summary.sentences).toBe(2);
    expect(concat(chunks).equals(Buffer.concat([audioOf('BTC USDT is at 97,500.50.'), audioOf('Next target 100k')]))).toBe(true);
  });

  it('serves a repeated sentence from the cache: no second upstream call, no second upstream charge', async () => {
    const voice = service();
    const first = await speak(voice, [S1, S2]);
    const second = await speak(voice, [S2, S1, S3]);
    expect(mock.requests.map((r) => r.body.text)).toEqual([S1, S2, S3]);
    expect(second.summary).toMatchObject({ cacheHits: 2, charactersDelivered: S1.length + S2.length + S3.length, charactersBilledUpstream: S3.length });
    expect(concat(second.chunks).equals(Buffer.concat([audioOf(S2), audioOf(S1), audioOf(S3)]))).toBe(true);
    expect(first.summary.charactersBilledUpstream).toBe(S1.length + S2.length);
    expect(voice.cacheStats().entries).toBe(3);
  });

  it('joins a synthesis already in flight for the same text', async () => {
    mock.script({ firstChunkDelayMs: 100 });
    const voice = service();
    const [a, b] = await Promise.all([speak(voice, [S1]), speak(voice, [S1])]);
    expect(mock.requests).toHaveLength(1);
    expect(concat(a.chunks).equals(concat(b.chunks))).toBe(true);
    expect(a.summary.charactersBilledUpstream + b.summary.charactersBilledUpstream).toBe(S1.length);
  });

  it('keeps the cache bounded (LRU)', async () => {
    const voice = service({ cacheMaxEntries: 2 });
    await speak(voice, [S1, S2, S3]); // S1 evicted
    await speak(voice, [S3, S1]);
    expect(mock.requests.map((r) => r.body.text)).toEqual([S1, S2, S3, S1]);
    expect(voice.cacheStats().entries).toBe(2);
  });

  it('retries a 429 once, then succeeds', async () => {
    mock.script({ fault: { type: 'status', status: 429 } });
    const { summary } = await speak(service(), [S2]);
    expect(mock.requests).toHaveLength(2);
    expect(summary).toMatchObject({ status: 'complete', charactersBilledUpstream: S2.length });
  });

  it('stops on a non-retryable error with voice_unavailable, still sending the final marker', async () => {
    mock.script({}, { fault: { type: 'status', status: 401, detailStatus: 'quota_exceeded', message: 'Quota exceeded' } });
    const { chunks, summary } = await speak(service({ concurrency: 1 }), [S2, S3, S1]);
    expect(summary).toMatchObject({
      status: 'failed',
      sentences: 1,
      charactersDelivered: S2.length,
      error: { code: 'voice_unavailable', status: 401, detailStatus: 'quota_exceeded' },
    });
    expect(summary.error!.message).toContain('Quota exceeded');
    expect(mock.requests.map((r) => r.body.text)).toEqual([S2, S3]); // no retry, nothing after the failure
    expect(chunks.at(-1)!.final).toBe(true);
    expect(concat(chunks).equals(Buffer.from(audioOf(S2)))).toBe(true);
  });

  it('aborts the upstream request at once and ends with the final marker', async () => {
    mock.script({ chunkDelayMs: 200, framesPerChunk: 1 });
    const ac = new AbortController();
    const voice = service();
    const done = speak(voice, [S1], ac.signal);
    const req = await mock.waitForRequest(1);
    setTimeout(() => ac.abort(), 120);
    const { chunks, summary } = await done;
    expect(await req.ended).toBe('client-disconnected');
    expect(summary.status).toBe('aborted');
    expect(summary.charactersDelivered).toBe(0);
    expect(chunks.at(-1)!.final).toBe(true);
    expect(chunks.length).toBeLessThan(audioOf(S1).length / 417);
    expect(voice.cacheStats().entries).toBe(0);
  });
});

describe('voice service configuration', () => {
  it('is unavailable without an API key, with a clear voice_unavailable result', () => {
    const voice = createVoiceService({});
    expect(voice.available).toBe(false);
    expect(voice.open({ onAudio: () => {} })).toEqual({
      ok: false,
      error: { code: 'voice_unavailable', message: 'Voice is not available: no ElevenLabs API key is configured.' },
    });
  });

  it('maps the environment', () => {
    expect(voiceOptionsFromEnv({ ELEVENLABS_API_KEY: 'k', ELEVENLABS_MODEL: 'eleven_turbo_v2_5', ELEVENLABS_VOICE_ID: '' })).toEqual({
      apiKey: 'k',
      baseUrl: undefined,
      voiceId: undefined,
      modelId: 'eleven_turbo_v2_5',
      outputFormat: undefined,
    });
    expect(() => voiceOptionsFromEnv({ ELEVENLABS_OUTPUT_FORMAT: 'wav' })).toThrow('ELEVENLABS_OUTPUT_FORMAT');
  });
});
