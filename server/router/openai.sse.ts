/**
 * Reads a Chat Completions stream from the raw `Response` the openai SDK
 * returns for `create(...).asResponse()`: the SDK still makes the request
 * (auth, base URL, headers, timeout, its APIError for a non-2xx status with
 * the Retry-After headers the router reads); only the body is read here.
 *
 * Why not the SDK's own `for await (const chunk of stream)`: per chunk it
 * runs four nested async generators (body → SSE chunks → SSE messages →
 * parsed JSON → normalized copy), a `Promise.race` against the abort signal
 * and a spread copy of every chunk. At a hundred streams of 100 tokens/s
 * that was a quarter of the web process's CPU (see bench/provider-stream.ts).
 * Here each network read is one `reader.read()`, the SSE framing is done by
 * `eventsource-parser` (synchronous, no per-event promise) and each chunk is
 * handed to `onChunk` synchronously, in wire order.
 *
 * Same observable behaviour as the SDK's legacy stream mode: iteration ends
 * at `[DONE]` (the rest of the body is cancelled) or at the body's end; an
 * `error` event or a chunk carrying `error` throws the SDK's APIError;
 * malformed JSON throws a SyntaxError; an abort of the request's signal
 * rejects with the signal's reason (the caller reads `signal.aborted`).
 *
 * A Response from our own transport (openai.transport.ts) is read from the
 * Node message behind it: 'data' events straight into the parser, no web
 * stream and no promise per chunk. Same semantics; after `[DONE]` the rest
 * is drained rather than cancelled, so the keep-alive socket is reused.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import OpenAI from 'openai';
import { nodeBodyOf, readNodeBody } from './openai.transport';

export type ChatCompletionChunk = OpenAI.Chat.Completions.ChatCompletionChunk;

const STREAMING = { stream: true } as const;

export async function readChatCompletionStream(response: Response, onChunk: (chunk: ChatCompletionChunk) => void): Promise<void> {
  if (!response.body) throw new OpenAI.OpenAIError('Attempted to iterate over a response with no body');
  let done = false;
  const onEvent = (message: EventSourceMessage) => {
    if (done) return;
    if (message.data === '[DONE]') {
      done = true;
      return;
    }
    let data: ChatCompletionChunk & { error?: unknown };
    try {
      data = JSON.parse(message.data);
    } catch {
      throw new SyntaxError('Error reading response: malformed server-sent event JSON.');
    }
    if (message.event === 'error' || (data && data.error)) {
      const error = message.event === 'error' ? ((data as { error?: object }).error ?? data) : data.error;
      throw new OpenAI.APIError(undefined, error as object, undefined, response.headers);
    }
    onChunk(data);
  };
  const parser = createParser({ onEvent });
  const node = nodeBodyOf(response);
  if (node) {
    await readNodeBody(node, (text, stop) => {
      parser.feed(text);
      if (done) stop();
    });
    // A last event without its closing blank line still counts (as the SDK's decoder flushes it).
    if (!done) parser.feed('\n\n');
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let ended = false;
  try {
    while (!done) {
      const read = await reader.read();
      if (read.done) {
        ended = true;
        // A last event without its closing blank line still counts (as the SDK's decoder flushes it).
        parser.feed(decoder.decode() + '\n\n');
        return;
      }
      parser.feed(decoder.decode(read.value, STREAMING));
    }
  } finally {
    // Left early ([DONE], an error event, a throwing onChunk): the rest of the body is not wanted.
    if (!ended) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
