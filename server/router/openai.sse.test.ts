import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockOpenAI, type MockOpenAI } from '../../test/mock-providers';
import { createOpenAIStyleProvider } from './openai.provider';
import { readChatCompletionStream, type ChatCompletionChunk } from './openai.sse';
import { createNodeFetch, nodeBodyOf } from './openai.transport';
import type { ProviderTurn } from './router.types';

/** A real fetch Response whose body arrives in exactly these byte pieces (as a network may cut it). */
function responseOf(pieces: Uint8Array[]): { response: Response; cancelled: () => boolean } {
  let cancelled = false;
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < pieces.length) controller.enqueue(pieces[i++]!);
      else controller.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { response: new Response(body, { headers: { 'content-type': 'text/event-stream' } }), cancelled: () => cancelled };
}

const chunkLine = (content: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] })}\n\n`;

async function contentsOf(response: Response): Promise<string[]> {
  const seen: string[] = [];
  await readChatCompletionStream(response, (c: ChatCompletionChunk) => seen.push(c.choices[0]?.delta.content ?? ''));
  return seen;
}

describe('reading a Chat Completions stream (openai.sse)', () => {
  it('yields the same chunks however the bytes are cut, multi-byte characters split across reads included', async () => {
    const deltas = ['Le ', 'marché ', 'monte ', '🚀 ', 'fort', '.'];
    const wire = new TextEncoder().encode(deltas.map((d, i) => chunkLine(d, i === deltas.length - 1 ? 'stop' : null)).join('') + 'data: [DONE]\n\n');
    // Every cut point of the stream into two pieces, and one byte per read.
    for (let cut = 1; cut < wire.length; cut += 7) {
      expect(await contentsOf(responseOf([wire.slice(0, cut), wire.slice(cut)]).response)).toEqual(deltas);
    }
    expect(await contentsOf(responseOf([...wire].map((b) => Uint8Array.of(b))).response)).toEqual(deltas);
  });

  it('stops at [DONE] and cancels the rest of the body', async () => {
    const wire = new TextEncoder().encode(chunkLine('a', 'stop') + 'data: [DONE]\n\n');
    const after = new TextEncoder().encode(chunkLine('never seen'));
    const { response, cancelled } = responseOf([wire, after, after]);
    expect(await contentsOf(response)).toEqual(['a']);
    expect(cancelled()).toBe(true);
  });

  it('delivers a last event whose closing blank line never came', async () => {
    const wire = new TextEncoder().encode(chunkLine('a') + chunkLine('b').trimEnd());
    expect(await contentsOf(responseOf([wire]).response)).toEqual(['a', 'b']);
  });

  it("throws the SDK's APIError for an in-stream error, and a SyntaxError for malformed JSON", async () => {
    const error = new TextEncoder().encode(chunkLine('a') + `data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } })}\n\n`);
    const seen: string[] = [];
    const failed = await readChatCompletionStream(responseOf([error]).response, (c) => seen.push(c.choices[0]!.delta.content!)).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OpenAI.APIError);
    expect((failed as Error).message).toContain('overloaded');
    expect(seen).toEqual(['a']);

    const named = new TextEncoder().encode(`event: error\ndata: ${JSON.stringify({ error: { message: 'bad gateway' } })}\n\n`);
    await expect(readChatCompletionStream(responseOf([named]).response, () => undefined)).rejects.toBeInstanceOf(OpenAI.APIError);

    const malformed = new TextEncoder().encode('data: {"choices": [\n\n');
    await expect(readChatCompletionStream(responseOf([malformed]).response, () => undefined)).rejects.toBeInstanceOf(SyntaxError);
  });
});

describe('the OpenAI-style adapter on a long answer', () => {
  let mock: MockOpenAI;
  beforeAll(async () => {
    mock = await startMockOpenAI({ apiKey: 'k', reply: { text: 'unused' } });
  });
  afterAll(() => mock.close());

  it('relays a 20,000-token answer exactly: one onToken per provider token, in order, the text whole, usage as reported', async () => {
    const tokens = Array.from({ length: 20_000 }, (_, i) => (i % 97 === 0 ? `é${i} ` : `w${i % 13} `));
    mock.script({ tokens, usage: { inputTokens: 321, outputTokens: 20_000 } });
    const provider = createOpenAIStyleProvider({ name: 'xai', apiKey: 'k', baseURL: mock.url, model: 'grok-test' });
    const received: string[] = [];
    let activity = 0;
    const turn: ProviderTurn = {
      prompt: { system: 's', messages: [{ role: 'user', content: 'q' }], input: 'q' } as never,
      system: 's',
      messages: [{ role: 'user', content: 'q' }],
      maxOutputTokens: 30_000,
      maxToolRounds: 0,
      signal: new AbortController().signal,
      onToken: (d) => void received.push(d),
      onRequestStart: () => undefined,
      onActivity: () => void activity++,
    };
    const outcome = await provider.run(turn);
    expect(outcome.error).toBeUndefined();
    expect(outcome.finished).toBe(true);
    // Per-token work is one callback each, whatever the position in the answer.
    expect(received).toEqual(tokens);
    expect(activity).toBe(tokens.length);
    expect(outcome.text).toBe(tokens.join(''));
    // Reported usage wins, and nothing was estimated (the prompt is tokenized only when the provider does not report it).
    expect(outcome.usage).toEqual({ inputTokens: 321, outputTokens: 20_000, estimated: false });
  });
});

describe('reading a Chat Completions stream from the node:http transport (no web stream)', () => {
  // A loopback provider writing each request's scripted pieces as separate HTTP chunks: the client's parser hands each
  // chunk's bytes out separately, so the reader sees exactly these cuts, whatever TCP coalesces.
  const scripts: Uint8Array[][] = [];
  let server: Server;
  let url: string;
  const nodeFetch = createNodeFetch();
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      req.resume();
      const pieces = scripts.shift() ?? [];
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      for (const piece of pieces) res.write(piece);
      res.end();
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
  });
  afterAll(async () => {
    nodeFetch.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function served(pieces: Uint8Array[]): Promise<Response> {
    scripts.push(pieces);
    const response = await nodeFetch(url, { method: 'POST', body: '{}' });
    expect(nodeBodyOf(response)).toBeDefined();
    return response;
  }

  it('yields the same chunks however the bytes are cut, multi-byte characters split across reads included', async () => {
    const deltas = ['Le ', 'marché ', 'monte ', '🚀 ', 'fort', '.'];
    const wire = new TextEncoder().encode(deltas.map((d, i) => chunkLine(d, i === deltas.length - 1 ? 'stop' : null)).join('') + 'data: [DONE]\n\n');
    for (let cut = 1; cut < wire.length; cut += 7) {
      expect(await contentsOf(await served([wire.slice(0, cut), wire.slice(cut)]))).toEqual(deltas);
    }
    expect(await contentsOf(await served([...wire].map((b) => Uint8Array.of(b))))).toEqual(deltas);
  });

  it('delivers a last event whose closing blank line never came, and throws APIError / SyntaxError as the web-stream reader does', async () => {
    expect(await contentsOf(await served([new TextEncoder().encode(chunkLine('a') + chunkLine('b').trimEnd())]))).toEqual(['a', 'b']);

    const error = new TextEncoder().encode(chunkLine('a') + `data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } })}\n\n`);
    const seen: string[] = [];
    const failed = await readChatCompletionStream(await served([error]), (c) => seen.push(c.choices[0]!.delta.content!)).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(OpenAI.APIError);
    expect((failed as Error).message).toContain('overloaded');
    expect(seen).toEqual(['a']);

    const named = new TextEncoder().encode(`event: error\ndata: ${JSON.stringify({ error: { message: 'bad gateway' } })}\n\n`);
    await expect(readChatCompletionStream(await served([named]), () => undefined)).rejects.toBeInstanceOf(OpenAI.APIError);
    await expect(readChatCompletionStream(await served([new TextEncoder().encode('data: {"choices": [\n\n')]), () => undefined)).rejects.toBeInstanceOf(SyntaxError);
  });
});
