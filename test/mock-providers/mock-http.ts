/**
 * The loopback plumbing shared by the provider mocks: a node:http server on
 * 127.0.0.1 (port 0), a FIFO of scripted replies, a record of every request
 * (body, headers) and of how its response ended — in particular whether the
 * CLIENT went away mid-response, which is what abort tests must observe.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a response ended, as seen by the server. */
export type RequestOutcome = 'pending' | 'finished' | 'client-disconnected' | 'server-cut';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Parsed JSON body, or the raw text when it is not JSON. */
  body: any;
  receivedAt: number;
  /** The client's port: requests on one keep-alive connection share it. */
  remotePort: number | undefined;
  /** Content units (tokens, tool-argument pieces, audio chunks) written so far. */
  unitsSent: number;
  /** When the first and the latest unit were written (performance.now()): the mock's own pace. */
  firstUnitAt?: number;
  lastUnitAt?: number;
  outcome: RequestOutcome;
  /** When the response ended (Date.now()), once it has. */
  endedAt?: number;
  /** Resolves once the response is over, with the final outcome. */
  ended: Promise<RequestOutcome>;
}

/** A reply, or a function of the request computing it (may be async). */
export type Script<R> = R | ((request: RecordedRequest, index: number) => R | Promise<R>);

export interface MockControl<R> {
  /** The base URL to give the SDK (`…/v1` for OpenAI-style, bare origin for the others). */
  url: string;
  origin: string;
  requests: RecordedRequest[];
  /** Queues replies; each incoming request consumes the next one, then the default applies. */
  script(...replies: Array<Script<R>>): void;
  setDefault(reply: Script<R>): void;
  /** Replies still queued. */
  pending(): number;
  /** Drops queued replies and recorded requests. */
  reset(): void;
  /** Resolves with request number `n` (1-based) once it has arrived. */
  waitForRequest(n?: number, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

/** What a route handler gets to write its response with. */
export interface ResponseContext {
  req: IncomingMessage;
  res: ServerResponse;
  record: RecordedRequest;
  /** True once the client went away or the response was cut. */
  closed(): boolean;
  /** Waits `ms`; resolves false early if the connection closes meanwhile. */
  sleep(ms: number): Promise<boolean>;
  /** Writes if still open; returns whether the connection is still usable. */
  write(chunk: string | Uint8Array): boolean;
  /** Counts one content unit (for `cut after N` faults and assertions). */
  countUnit(): void;
  /**
   * Destroys the socket: before the first byte = connection reset, later =
   * stream cut. What was already written is flushed first, so the client does
   * see the tokens before the break.
   */
  cut(): Promise<void>;
  json(status: number, body: unknown, headers?: Record<string, string>): void;
}

export type RouteHandler<R> = (ctx: ResponseContext, reply: R) => Promise<void>;

export interface StartOptions<R> {
  /** Which request paths the mock serves; anything else gets a 404. */
  match: (method: string, path: string) => boolean;
  defaultReply: Script<R>;
  handle: RouteHandler<R>;
  /** Called before scripting; returning true means the request was answered (e.g. auth failure). */
  precheck?: (ctx: ResponseContext) => boolean;
  urlSuffix?: string;
  notFound?: (ctx: ResponseContext) => void;
  /** How long an idle keep-alive connection is kept (default 1000 ms). */
  keepAliveTimeoutMs?: number;
}

export async function startMockHttp<R>(options: StartOptions<R>): Promise<MockControl<R>> {
  const queue: Array<Script<R>> = [];
  let defaultReply = options.defaultReply;
  const requests: RecordedRequest[] = [];
  const waiters: Array<{ n: number; resolve: (r: RecordedRequest) => void }> = [];

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    let body: any = raw;
    try {
      body = raw.length > 0 ? JSON.parse(raw) : undefined;
    } catch {
      // Not JSON: keep the text; the route decides whether that is an error.
    }
    let settle: (o: RequestOutcome) => void = () => {};
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')])),
      body,
      receivedAt: Date.now(),
      remotePort: req.socket.remotePort,
      unitsSent: 0,
      outcome: 'pending',
      ended: new Promise<RequestOutcome>((resolve) => (settle = resolve)),
    };
    requests.push(record);
    for (const w of waiters.filter((w) => w.n === requests.length)) w.resolve(record);

    let isClosed = false;
    let serverCut = false;
    const sleepers = new Set<() => void>();
    res.on('close', () => {
      isClosed = true;
      record.endedAt = Date.now();
      record.outcome = res.writableFinished ? 'finished' : serverCut ? 'server-cut' : 'client-disconnected';
      settle(record.outcome);
      for (const wake of sleepers) wake();
    });

    const ctx: ResponseContext = {
      req,
      res,
      record,
      closed: () => isClosed || res.destroyed,
      sleep: (ms) =>
        new Promise<boolean>((resolve) => {
          if (ctx.closed()) return resolve(false);
          if (ms <= 0) return resolve(true);
          const wake = () => {
            clearTimeout(timer);
            sleepers.delete(wake);
            resolve(false);
          };
          const timer = setTimeout(() => {
            sleepers.delete(wake);
            resolve(!ctx.closed());
          }, ms);
          sleepers.add(wake);
        }),
      write: (chunk) => {
        if (ctx.closed()) return false;
        res.write(chunk);
        return true;
      },
      countUnit: () => {
        record.unitsSent += 1;
        record.lastUnitAt = performance.now();
        record.firstUnitAt ??= record.lastUnitAt;
      },
      cut: async () => {
        serverCut = true;
        if (res.headersSent) {
          // Let the socket hand what was written to the kernel (bounded wait), then break it.
          for (let i = 0; i < 100 && req.socket.writableLength > 0 && !req.socket.destroyed; i++) await new Promise((r) => setTimeout(r, 2));
          await new Promise((r) => setTimeout(r, 5));
        }
        req.socket.destroy();
      },
      json: (status, payload, headers = {}) => {
        if (ctx.closed()) return;
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(payload));
      },
    };

    try {
      if (!options.match(record.method, record.path)) {
        if (options.notFound) options.notFound(ctx);
        else ctx.json(404, { error: { message: `no route ${record.method} ${record.path}` } });
        return;
      }
      if (options.precheck?.(ctx)) return;
      const next = queue.length > 0 ? queue.shift()! : defaultReply;
      const reply = typeof next === 'function' ? await (next as (r: RecordedRequest, i: number) => R | Promise<R>)(record, requests.length - 1) : next;
      await options.handle(ctx, reply);
    } catch (err) {
      if (!res.headersSent) ctx.json(500, { error: { message: `mock failure: ${(err as Error).message}` } });
      else await ctx.cut();
    }
  });
  // Streams must not be closed by the server's own idle timers while a test drips tokens.
  server.requestTimeout = 0;
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 1000;

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: origin + (options.urlSuffix ?? ''),
    origin,
    requests,
    script: (...replies) => {
      queue.push(...replies);
    },
    setDefault: (reply) => {
      defaultReply = reply;
    },
    pending: () => queue.length,
    reset: () => {
      queue.length = 0;
      requests.length = 0;
    },
    waitForRequest: (n = requests.length + 1, timeoutMs = 5000) => {
      const have = requests[n - 1];
      if (have) return Promise.resolve(have);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`mock: request ${n} did not arrive within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          n,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Splits text into word-sized "tokens" that concatenate back to exactly the text. */
export function splitTokens(text: string): string[] {
  return text.match(/\s*\S+|\s+$/g) ?? [];
}

/** Splits a string into pieces of at most `size` characters (tool-argument deltas). */
export function splitPieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

export function sseHeaders(res: ServerResponse, extra: Record<string, string> = {}): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...extra,
  });
  // Headers go out at once, as real providers do, so time-to-first-token is measured on the body.
  res.flushHeaders();
}

let idCounter = 0;
/** Deterministic-enough ids: unique per process, readable in failures. */
export function mockId(prefix: string): string {
  idCounter += 1;
  return `${prefix}${idCounter.toString(36).padStart(8, '0')}`;
}
