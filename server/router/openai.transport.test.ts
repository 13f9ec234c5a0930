import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../common/embedded-postgres';
import { faults, startMockOpenAI, type MockOpenAI, type MockReply } from '../../test/mock-providers';
import { createOpenAIStyleProvider } from './openai.provider';
import { readChatCompletionStream } from './openai.sse';
import { createNodeFetch, nodeBodyOf } from './openai.transport';
import { classifyFailure } from './retry-policy';
import type { ProviderOutcome, ProviderTurn } from './router.types';

function turn(signal: AbortSignal, onToken: (delta: string) => void = () => undefined): ProviderTurn {
  return {
    prompt: { system: 's', messages: [{ role: 'user', content: 'q' }], input: 'q' } as never,
    system: 's',
    messages: [{ role: 'user', content: 'q' }],
    maxOutputTokens: 100,
    maxToolRounds: 0,
    signal,
    onToken,
    onRequestStart: () => undefined,
    onActivity: () => undefined,
  };
}

const TRANSPORTS = ['node', 'fetch'] as const;

/** One answer through the adapter with our transport ('node', production) or Node's global fetch ('fetch', the former default). */
function runWith(transport: (typeof TRANSPORTS)[number], baseURL: string, signal = new AbortController().signal): Promise<ProviderOutcome> {
  const provider = createOpenAIStyleProvider({ name: 'xai', apiKey: 'k', baseURL, model: 'grok-test', ...(transport === 'fetch' ? { fetch: globalThis.fetch } : {}) });
  return provider.run(turn(signal));
}

function streamingRequest(signal?: AbortSignal): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'q' }], stream: true }),
    ...(signal ? { signal } : {}),
  };
}

describe('the node:http transport under the openai SDK (openai.transport)', () => {
  let mock: MockOpenAI;
  beforeAll(async () => {
    // Keep-alive longer than the agent's 1 s safety margin, as hosted providers do.
    mock = await startMockOpenAI({ apiKey: 'k', reply: { text: 'one two three' }, keepAliveTimeoutMs: 60_000 });
  });
  afterAll(() => mock.close());

  it('reuses one keep-alive socket across sequential answers (the rest after [DONE] is drained, not cut)', async () => {
    mock.reset();
    const provider = createOpenAIStyleProvider({ name: 'xai', apiKey: 'k', baseURL: mock.url, model: 'grok-test' });
    for (let i = 0; i < 3; i++) {
      const tokens: string[] = [];
      const outcome = await provider.run(turn(new AbortController().signal, (d) => void tokens.push(d)));
      expect(outcome).toMatchObject({ finished: true, error: undefined, text: 'one two three' });
      expect(tokens).toEqual(['one', ' two', ' three']);
    }
    expect(mock.requests.map((r) => r.outcome)).toEqual(['finished', 'finished', 'finished']);
    const ports = new Set(mock.requests.map((r) => r.remotePort));
    expect(ports.size).toBe(1);
  });

  it('gives the router a 429 with its Retry-After and JSON error body exactly as fetch did', async () => {
    const seen = [];
    for (const transport of TRANSPORTS) {
      mock.script(faults.rateLimited(2));
      const outcome = await runWith(transport, mock.url);
      const err = outcome.error as InstanceType<typeof OpenAI.RateLimitError>;
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(err.headers?.get('retry-after')).toBe('2');
      expect(err.error).toEqual({ message: 'Rate limit reached', type: 'rate_limit_error', param: null, code: null });
      seen.push(classifyFailure(err, undefined, 0));
    }
    expect(seen[0]).toEqual({ kind: 'rate_limited', retrySame: true, status: 429, retryAfterMs: 2000, message: '429 Rate limit reached' });
    expect(seen[1]).toEqual(seen[0]);
  });

  it("classifies a refused connection as a connection failure, as with fetch: the SDK's APIConnectionError over TypeError('fetch failed')", async () => {
    // A loopback port free a moment ago: nothing listens on it.
    const url = `http://127.0.0.1:${await freePort()}/v1`;
    for (const transport of TRANSPORTS) {
      const outcome = await runWith(transport, url);
      expect(outcome.error).toBeInstanceOf(OpenAI.APIConnectionError);
      const cause = (outcome.error as Error).cause as Error & { cause?: { code?: string } };
      expect(cause).toBeInstanceOf(TypeError);
      expect(cause.message).toBe('fetch failed');
      expect(cause.cause?.code).toBe('ECONNREFUSED');
      expect(classifyFailure(outcome.error)).toMatchObject({ kind: 'connection', retrySame: true });
    }
  });

  it('classifies a connection reset before the response and a stream cut mid-body as connection failures, as with fetch', async () => {
    for (const transport of TRANSPORTS) {
      mock.script(faults.reset());
      const reset = await runWith(transport, mock.url);
      expect(reset.error).toBeInstanceOf(OpenAI.APIConnectionError);
      expect(classifyFailure(reset.error)).toMatchObject({ kind: 'connection', retrySame: true });

      mock.script({ ...faults.cut('a b c d e f', 3) } satisfies MockReply);
      const cut = await runWith(transport, mock.url);
      // The tokens before the cut were delivered; the body's error is fetch's.
      expect(cut).toMatchObject({ text: 'a b c', finished: false });
      expect(cut.error).toBeInstanceOf(TypeError);
      expect((cut.error as Error).message).toBe('terminated');
      expect(classifyFailure(cut.error)).toMatchObject({ kind: 'connection', retrySame: true });
    }
  });

  it("aborts before the headers: the promise rejects with the signal's reason, the SDK throws APIUserAbortError, the provider sees the client leave", async () => {
    const nodeFetch = createNodeFetch();
    try {
      mock.reset();
      mock.script({ text: 'late', firstTokenDelayMs: 10_000 });
      const controller = new AbortController();
      const pending = nodeFetch(`${mock.url}/chat/completions`, { ...streamingRequest(controller.signal), body: JSON.stringify({ model: 'm', messages: [] }) });
      const request = await mock.waitForRequest(1);
      const reason = new Error('caller gave up');
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
      expect(await request.ended).toBe('client-disconnected');

      // Already aborted: no request at all.
      await expect(nodeFetch(`${mock.url}/chat/completions`, streamingRequest(AbortSignal.abort(reason)))).rejects.toBe(reason);

      // Through the SDK (its non-streamed call waits for the headers until the first token).
      mock.script({ text: 'late', firstTokenDelayMs: 10_000 });
      const client = new OpenAI({ apiKey: 'k', baseURL: mock.url, maxRetries: 0, fetch: nodeFetch });
      const sdkController = new AbortController();
      const call = client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'q' }] }, { signal: sdkController.signal });
      const sdkRequest = await mock.waitForRequest(2);
      sdkController.abort();
      await expect(call).rejects.toBeInstanceOf(OpenAI.APIUserAbortError);
      expect(await sdkRequest.ended).toBe('client-disconnected');
      expect(mock.requests).toHaveLength(2);
    } finally {
      nodeFetch.close();
    }
  });

  it("aborts mid-body: the stream's read rejects with the signal's reason and the socket is closed", async () => {
    const nodeFetch = createNodeFetch();
    try {
      mock.reset();
      mock.script({ text: 'a b c d e f g h', tokenDelayMs: 30 });
      const controller = new AbortController();
      const response = await nodeFetch(`${mock.url}/chat/completions`, streamingRequest(controller.signal));
      expect(nodeBodyOf(response)).toBeDefined();
      const reason = new Error('caller gave up');
      const seen: string[] = [];
      const reading = readChatCompletionStream(response, (chunk) => {
        const content = chunk.choices[0]?.delta.content;
        if (content) seen.push(content);
        if (seen.length === 2) controller.abort(reason);
      });
      await expect(reading).rejects.toBe(reason);
      expect(seen).toEqual(['a', ' b']);
      expect(await mock.requests[0]!.ended).toBe('client-disconnected');
    } finally {
      nodeFetch.close();
    }

    // Through the adapter: the round ends quietly (the router reads the signal), the provider sees the client leave.
    mock.reset();
    mock.script({ text: 'a b c d e f g h', tokenDelayMs: 30 });
    const controller = new AbortController();
    const provider = createOpenAIStyleProvider({ name: 'xai', apiKey: 'k', baseURL: mock.url, model: 'grok-test' });
    const outcome = await provider.run(turn(controller.signal, () => controller.abort(new Error('stop'))));
    expect(outcome).toMatchObject({ text: 'a', finished: false, error: undefined });
    expect(await mock.requests[0]!.ended).toBe('client-disconnected');
  });

  it("still serves fetch's web body to a reader of the Response (the SDK reading an error body)", async () => {
    const nodeFetch = createNodeFetch();
    try {
      mock.script({ text: 'x y' });
      const response = await nodeFetch(`${mock.url}/chat/completions`, streamingRequest());
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const text = await response.text();
      expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(text).toContain('"content":" y"');
    } finally {
      nodeFetch.close();
    }
  });
});
