/** The mocks' raw wire formats, read with plain fetch (the SDK-level behaviour is covered by server/router and server/voice). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeMp3, faults, startMockAnthropic, startMockElevenLabs, startMockOpenAI, type MockAnthropic, type MockElevenLabs, type MockOpenAI } from './index';

let openai: MockOpenAI;
let anthropic: MockAnthropic;
let eleven: MockElevenLabs;
beforeAll(async () => {
  [openai, anthropic, eleven] = await Promise.all([startMockOpenAI({ apiKey: 'k' }), startMockAnthropic({ apiKey: 'k' }), startMockElevenLabs({ apiKey: 'k' })]);
});
afterAll(async () => {
  await Promise.all([openai.close(), anthropic.close(), eleven.close()]);
});

const post = (url: string, body: unknown, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => block.split('\n').find((l) => l.startsWith('data: '))!.slice(6));
}

describe('mock OpenAI / xAI', () => {
  it('paces on the clock when asked: units held up by a busy process go out at once instead of pushing the rest back', async () => {
    const tokens = Array.from({ length: 10 }, (_, i) => `w${i} `);
    /** Streams the reply, blocking this process (and the mock's timers with it) for 600 ms after the first unit. */
    const streamWithStall = async (pacing: 'relative' | 'clock') => {
      openai.script({ tokens, firstTokenDelayMs: 0, tokenDelayMs: 50, pacing });
      const res = await post(`${openai.url}/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true }, { authorization: 'Bearer k' });
      const reader = res.body!.getReader();
      const started = performance.now();
      let stalled = false;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!stalled && new TextDecoder().decode(value).includes('w0 ')) {
          stalled = true;
          while (performance.now() - started < 600) {
            // busy: no timer of the mock can fire
          }
        }
      }
      return performance.now() - started;
    };
    // Relative: w1's delay ends after the stall at the earliest, then 8 more delays of 50 ms. Clock: every unit was due
    // by 450 ms, so all follow the stall at once.
    expect(await streamWithStall('relative')).toBeGreaterThanOrEqual(600 + 8 * 50);
    expect(await streamWithStall('clock')).toBeLessThan(600 + 8 * 50 - 150);
  });

  it('streams chat.completion.chunk lines, a usage chunk when asked, then [DONE]', async () => {
    openai.script({ text: 'Hi there', toolCalls: [{ name: 'get_signal', arguments: { symbol: 'BTC/USDT' }, id: 'call_1' }], usage: { inputTokens: 7, outputTokens: 3 } });
    const res = await post(`${openai.url}/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true, stream_options: { include_usage: true } }, { authorization: 'Bearer k' });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    expect(text).not.toContain('event:');
    const data = sseData(text);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'm')).toBe(true);
    expect(chunks[0].choices[0].delta).toMatchObject({ role: 'assistant', content: '' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hi there');
    const toolArgs = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t: { function: { arguments: string } }) => t.function.arguments).join('');
    expect(JSON.parse(toolArgs)).toEqual({ symbol: 'BTC/USDT' });
    expect(chunks.at(-2).choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });
  });

  it('answers non-streaming requests, OpenAI error bodies with Retry-After, and 401 for a wrong key', async () => {
    openai.script({ text: 'Plain.' }, faults.rateLimited(3));
    const plain = await (await post(`${openai.url}/chat/completions`, { model: 'm', messages: [] }, { authorization: 'Bearer k' })).json();
    expect(plain).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant', content: 'Plain.' }, finish_reason: 'stop' }] });
    const limited = await post(`${openai.url}/chat/completions`, { model: 'm', messages: [] }, { authorization: 'Bearer k' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(await limited.json()).toMatchObject({ error: { type: 'rate_limit_error', param: null } });
    const denied = await post(`${openai.url}/chat/completions`, { model: 'm', messages: [] }, { authorization: 'Bearer nope' });
    expect(denied.status).toBe(401);
    expect((await denied.json()).error.code).toBe('invalid_api_key');
  });
});

describe('mock Anthropic', () => {
  it('streams named events in the documented order, with tool_use and input_json_delta', async () => {
    anthropic.script({ text: 'Checking', toolCalls: [{ name: 'get_signal', arguments: { symbol: 'ETH/USDT' } }], usage: { inputTokens: 11, outputTokens: 6 } });
    const res = await post(`${anthropic.url}/v1/messages`, { model: 'c', max_tokens: 10, messages: [{ role: 'user', content: 'x' }], stream: true }, { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' });
    const events = (await res.text())
      .split('\n\n')
      .filter(Boolean)
      .map((b) => ({ name: b.split('\n')[0]!.slice(7), data: JSON.parse(b.split('\n')[1]!.slice(6)) }));
    expect(events.map((e) => e.name)).toEqual([
      'message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_stop',
      'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
    ]);
    expect(events.every((e) => e.data.type === e.name)).toBe(true);
    expect(events[0]!.data.message.usage.input_tokens).toBe(11);
    expect(events[5]!.data.content_block).toMatchObject({ type: 'tool_use', name: 'get_signal', input: {} });
    expect(events[6]!.data.delta.type).toBe('input_json_delta');
    expect(events[9]!.data).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 6 } });
  });

  it('reports overload as 529, or in-stream as event: error; requires anthropic-version', async () => {
    anthropic.script(faults.overloaded(), faults.overloaded(1, 'one two'));
    const headers = { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' };
    const body = { model: 'c', max_tokens: 10, messages: [], stream: true };
    const r529 = await post(`${anthropic.url}/v1/messages`, body, headers);
    expect(r529.status).toBe(529);
    expect(await r529.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    const inStream = await (await post(`${anthropic.url}/v1/messages`, body, headers)).text();
    expect(inStream).toContain('event: error\ndata: {"type":"error","error":{"type":"overloaded_error"');
    expect(inStream).not.toContain('message_stop');
    const noVersion = await post(`${anthropic.url}/v1/messages`, body, { 'x-api-key': 'k' });
    expect(noVersion.status).toBe(400);
  });
});

describe('mock ElevenLabs', () => {
  it('returns deterministic MP3-framed audio and ElevenLabs error bodies', async () => {
    const res = await post(`${eleven.url}/v1/text-to-speech/v1ce/stream?output_format=mp3_44100_128`, { text: 'Hello trader.', model_id: 'eleven_flash_v2_5' }, { 'xi-api-key': 'k' });
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes).toEqual(fakeMp3({ text: 'Hello trader.', voiceId: 'v1ce', modelId: 'eleven_flash_v2_5' }));
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xfb]); // MPEG frame sync
    expect(fakeMp3({ text: 'Hello trader!', voiceId: 'v1ce' })).not.toEqual(bytes);

    const denied = await post(`${eleven.url}/v1/text-to-speech/v1ce/stream`, { text: 'x' }, { 'xi-api-key': 'bad' });
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
  });
});
