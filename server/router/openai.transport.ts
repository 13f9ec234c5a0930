/**
 * A `fetch` for the openai SDK's `fetch` client option, on `node:http` /
 * `node:https` with a keep-alive Agent instead of undici's fetch.
 *
 * Why: at a hundred streams the web process is CPU-bound, and undici's fetch
 * (WHATWG streams, a promise per `reader.read()`) was the largest block left
 * on the per-token path. Node's HTTP client parses with the native llhttp and
 * hands the body out as 'data' events. The SDK still gets a real `Response`
 * (status, headers, a body it can `text()` for its APIError), but
 * `readChatCompletionStream` reads the Node message behind it directly
 * (`nodeBodyOf`), so a streamed answer never goes through a web stream.
 *
 * Fetch semantics kept where the SDK and the router look:
 * - `init.signal` aborted before or during the response: the request and its
 *   socket are destroyed; the promise (or the body) rejects with the signal's
 *   reason, as fetch does.
 * - a connection that fails before the response: `TypeError('fetch failed')`
 *   with the socket error as `cause`; cut during the body: the body errors
 *   with `TypeError('terminated')` (undici's words), so retry-policy
 *   classifies both as connection failures, as before.
 * - non-2xx: an ordinary Response (the SDK builds its APIError from status,
 *   headers incl. Retry-After, and the JSON body).
 * Not kept: redirects are not followed (the provider APIs do not redirect; a
 * 3xx reaches the SDK as a non-2xx status). Bodies other than a string or
 * bytes (file uploads: FormData, Blob, streams) go to the global fetch.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';

/** What `readChatCompletionStream` needs to read a Response's body without its web stream. */
export interface NodeBody {
  /** The body bytes (decompressed when the server compressed anyway). Not yet flowing. */
  stream: Readable;
  /** The request's signal: when aborted, the body's error is its reason. */
  signal: AbortSignal | undefined;
}

export type NodeFetch = ((input: string | URL | Request, init?: RequestInit) => Promise<Response>) & {
  /** Destroys the agents' sockets (tests, shutdown). */
  close: () => void;
};

export interface NodeFetchOptions {
  /**
   * Sockets per origin. Each streamed answer holds one for its whole length,
   * so a low cap would queue answers behind long streams (and trip the
   * first-token timeout): the cap is far above what one instance streams.
   */
  maxSockets?: number;
  /** Idle keep-alive sockets kept per origin. */
  maxFreeSockets?: number;
}

const bodies = new WeakMap<Response, NodeBody>();

/** The Node body behind a Response made by a `createNodeFetch` fetch, or undefined for any other Response. */
export function nodeBodyOf(response: Response): NodeBody | undefined {
  return bodies.get(response);
}

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

export function createNodeFetch(options: NodeFetchOptions = {}): NodeFetch {
  // lifo (the default) reuses the most recently used socket, so the surplus after a burst idles out.
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 1024, maxFreeSockets: options.maxFreeSockets ?? 256, scheduling: 'lifo' as const };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);

  const nodeFetch = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (typeof input !== 'string' && !(input instanceof URL)) return fetch(input, init);
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array) && !(body instanceof ArrayBuffer)) {
      return fetch(input, init);
    }
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const url = typeof input === 'string' ? new URL(input) : input;
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') return Promise.reject(new TypeError('fetch failed', { cause: new Error(`unsupported protocol ${url.protocol}`) }));

    const headers: Record<string, string> = {};
    // The SDK passes a Headers; anything else fetch accepts (object, pairs) is normalised through one.
    (init.headers instanceof Headers ? init.headers : new Headers(init.headers)).forEach((value, name) => {
      headers[name] = value;
    });
    // A compressed event stream would need a flushing decoder per chunk; ask for identity (decoded below if a server compresses anyway).
    headers['accept-encoding'] ??= 'identity';
    const payload = body === undefined || body === null ? undefined : typeof body === 'string' ? Buffer.from(body) : Buffer.from(body as ArrayBuffer);
    if (payload) headers['content-length'] = String(payload.length);

    return new Promise<Response>((resolve, reject) => {
      const request = (secure ? https : http).request(url, { method: init.method ?? 'GET', headers, agent: secure ? httpsAgent : httpAgent });
      let responded = false;
      let message: IncomingMessage | undefined;
      const onAbort = () => {
        const reason = signal!.reason;
        // Destroying the request destroys its socket (never returned to the pool) and the response stream.
        message?.destroy(reason);
        request.destroy(reason);
        if (!responded) reject(reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const release = () => signal?.removeEventListener('abort', onAbort);

      request.on('error', (err) => {
        if (responded) return;
        release();
        reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: err }));
      });
      request.on('response', (res) => {
        responded = true;
        message = res;
        // Errors are read from the stream by whoever reads the body (`stream.errored` if it comes late); without a
        // listener, a connection cut before anyone reads would be an uncaught exception.
        res.on('error', ignore);
        // The listener is dropped once the body is over, whichever way it ends.
        res.once('close', release);
        try {
          const status = res.statusCode ?? 0;
          const responseHeaders = new Headers();
          const raw = res.rawHeaders;
          for (let i = 0; i < raw.length; i += 2) responseHeaders.append(raw[i]!, raw[i + 1]!);
          if (NULL_BODY_STATUS.has(status) || init.method === 'HEAD') {
            res.resume();
            resolve(new Response(null, { status, statusText: res.statusMessage, headers: responseHeaders }));
            return;
          }
          const stream = decoded(res, responseHeaders.get('content-encoding'));
          const response = new Response(lazyWebBody(stream, signal), { status, statusText: res.statusMessage, headers: responseHeaders });
          Object.defineProperty(response, 'url', { value: url.href });
          bodies.set(response, { stream, signal });
          resolve(response);
        } catch (err) {
          // A status or header fetch's Response refuses (status outside 200–599): fetch fails the same way.
          res.destroy();
          reject(new TypeError('fetch failed', { cause: err }));
        }
      });
      request.end(payload);
    });
  };
  return Object.assign(nodeFetch, {
    close: () => {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  });
}

/** Undici decodes gzip/deflate/br for fetch; so do we, should a server compress despite `accept-encoding: identity`. */
function decoded(res: IncomingMessage, encoding: string | null): Readable {
  const flush = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip(flush)
      : encoding === 'deflate'
        ? zlib.createInflate(flush)
        : encoding === 'br'
          ? zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH, finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH })
          : undefined;
  if (!decoder) return res;
  decoder.on('error', ignore);
  res.on('error', (err) => decoder.destroy(err));
  decoder.on('close', () => res.destroy());
  return res.pipe(decoder);
}

function ignore(): void {}

/**
 * Reads a body's bytes as 'data' events until it ends: `onData` for each
 * chunk; resolves at its end; rejects as fetch's body would (`bodyError`).
 * `stop()` (call it from `onData`) settles it early and discards the rest
 * (see `discardRest`).
 */
export function readNodeBody(body: NodeBody, onData: (chunk: string, stop: () => void) => void): Promise<void> {
  const { stream, signal } = body;
  return new Promise<void>((resolve, reject) => {
    if (cutShort(stream)) {
      reject(cutError(stream, signal));
      return;
    }
    let settled = false;
    const done = (err?: unknown) => {
      if (settled) return;
      settled = true;
      stream.off('data', onChunk);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const stop = () => {
      done();
      discardRest(stream);
    };
    const onChunk = (chunk: string) => {
      try {
        onData(chunk, stop);
      } catch (err) {
        // The reader gave up (malformed event, an error event, a throwing callback): the rest is not wanted.
        stream.destroy();
        done(err);
      }
    };
    const onEnd = () => done();
    const onError = (err: unknown) => done(bodyError(err, signal));
    const onClose = () => {
      if (!stream.readableEnded) done(cutError(stream, signal));
    };
    // UTF-8 characters split across packets are joined by the stream's StringDecoder.
    stream.setEncoding('utf8');
    stream.on('data', onChunk);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/**
 * After the reader is done (OpenAI's `[DONE]` comes just before the end of
 * the body), drain what is left instead of destroying the socket: the
 * message then completes and the keep-alive socket goes back to the pool
 * for the next answer. A body that keeps going is cut after a second.
 */
function discardRest(stream: Readable): void {
  if (stream.readableEnded || stream.destroyed) return;
  const timer = setTimeout(() => stream.destroy(), DISCARD_MS);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
  stream.once('end', () => clearTimeout(timer));
  stream.resume();
}
const DISCARD_MS = 1000;

/** A body closed (or failed) before its end: nothing more will come. */
function cutShort(stream: Readable): boolean {
  return Boolean(stream.errored) || (stream.destroyed && !stream.readableEnded);
}

/** What reading a body that was cut short fails with: its own error, or the closed connection's. */
function cutError(stream: Readable, signal: AbortSignal | undefined): unknown {
  return bodyError(stream.errored ?? new Error('other side closed'), signal);
}

/** fetch's body errors: the signal's reason after an abort, else `TypeError('terminated')` as undici says for a cut connection. */
export function bodyError(err: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted) return signal.reason;
  return new TypeError('terminated', { cause: err });
}

/**
 * The Response's web body, for anyone who reads the Response as fetch's (the
 * SDK's `text()` of an error body, another reader). Attached to the Node
 * stream only on the first read (highWaterMark 0), so a body read through
 * `nodeBodyOf` never pays for it.
 */
function lazyWebBody(stream: Readable, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  let attached = false;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (!attached) {
          attached = true;
          if (cutShort(stream)) {
            controller.error(cutError(stream, signal));
            return;
          }
          stream.on('data', (chunk: Buffer) => {
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            if ((controller.desiredSize ?? 0) <= 0) stream.pause();
          });
          stream.once('end', () => controller.close());
          stream.once('error', (err) => controller.error(bodyError(err, signal)));
          stream.once('close', () => {
            if (!stream.readableEnded && !stream.errored) controller.error(cutError(stream, signal));
          });
        }
        stream.resume();
      },
      cancel() {
        stream.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}
