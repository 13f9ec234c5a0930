/**
 * Child process: the chat load generator. Holds N real socket.io-client
 * websockets to the server, and N direct OpenAI-SDK clients of the mock for
 * the baseline, so that client-side parsing and bookkeeping do not run on the
 * server's event loop (the parent) — both sides still share the two cores.
 *
 * Load model (both phases): N clients in a closed loop. Client i starts after
 * i/N of one answer's duration (staggered, so the server sees a steady stream
 * of N concurrent answers rather than one synchronised burst), and sends its
 * next question as soon as the previous answer is done. Only requests sent
 * inside the measurement window (after a warm-up) count; tokens/s counts the
 * tokens that arrived inside the window.
 *
 * Through Zmarty the question is made unique per request (`unique`), so no
 * answer comes from the answer cache, unless the phase measures the cache.
 * Wire cost: every engine.io packet the sockets receive inside the window is
 * counted with its bytes (the websocket frame payload: engine.io's one-byte
 * type + socket.io's encoded event), to report bytes and events per token.
 */
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { io, type Socket } from 'socket.io-client';
import type { ChatDoneEvent, ChatErrorEvent, ChatTokenEvent, ClientToServerEvents, ServerToClientEvents } from '../../common/events';
import { serveChild } from './child';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface PhaseSpec {
  n: number;
  warmupMs: number;
  measureMs: number;
  /** Expected duration of one answer, for the start stagger. */
  cycleMs: number;
  message: string;
  /** Through Zmarty: append a request number, so every question is new to the answer cache. */
  unique?: boolean;
}

export interface PhaseRaw {
  /** Time to first token (ms) of each request sent inside the window. */
  ttftMs: number[];
  /** Through Zmarty only: `chat:send` emitted → ack received (the server's limits, context and credit reservation). */
  ackMs: number[];
  /** Per-request delivery rate (tokens/s from first to last token) of requests sent inside the window. */
  streamRates: number[];
  /** Per request sent inside the window: last token → the answer's end (direct: the stream's end; Zmarty: chat:done, after the settlement). */
  endWaitMs: number[];
  /** Tokens that arrived inside the window, and the window's length. */
  tokensInWindow: number;
  /** Tokens received over the whole phase (warm-up included): the server's CPU is measured over the phase. */
  tokensTotal: number;
  /** Through Zmarty: engine.io packets received inside the window and their payload bytes. */
  wirePackets: number;
  wireBytes: number;
  windowMs: number;
  completed: number;
  /** CPU of this (client) process during the phase, % of one core. */
  clientCpuPct: number;
  /** Distinct failure messages with counts. */
  errors: Record<string, number>;
}

/** Bookkeeping of one request: tokens as they arrive, failures, the end. */
interface Recorder {
  ack(): void;
  token(delta: string): void;
  fail(message: string): void;
  done(): void;
}

const sockets: ClientSocket[] = [];
let seq = 0;
/** Where received packets are counted during a phase. */
let wire: (bytes: number) => void = () => undefined;

function connectOne(url: string, token: string, timeoutMs: number): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('connect timed out'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      // 1 byte of engine.io packet type + the encoded socket.io packet: the websocket frame's payload.
      socket.io.engine.on('data', (data: unknown) => wire(1 + (typeof data === 'string' ? Buffer.byteLength(data) : (data as ArrayBuffer).byteLength)));
      resolve(socket);
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
  });
}

/** The message with the innermost cause's code (the SDK wraps fetch's TypeError, which wraps ECONNRESET & co). */
function describe(err: unknown): string {
  let code: string | undefined;
  for (let c = (err as { cause?: unknown }).cause, depth = 0; c && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    code = (c as { code?: string }).code ?? code;
  }
  return `${err instanceof Error ? err.message : String(err)}${code ? ` (${code})` : ''}`;
}

/** Runs `one(i, inWindow)` in a closed loop for N staggered clients; collects the window's figures. */
async function runPhase(
  spec: PhaseSpec,
  one: (i: number, record: (t0: number) => Recorder) => Promise<void>,
): Promise<PhaseRaw> {
  const start = performance.now();
  const windowStart = start + spec.warmupMs;
  const windowEnd = windowStart + spec.measureMs;
  const raw: PhaseRaw = {
    ttftMs: [],
    ackMs: [],
    streamRates: [],
    endWaitMs: [],
    tokensInWindow: 0,
    tokensTotal: 0,
    wirePackets: 0,
    wireBytes: 0,
    windowMs: spec.measureMs,
    completed: 0,
    clientCpuPct: 0,
    errors: {},
  };
  wire = (bytes) => {
    const now = performance.now();
    if (now < windowStart || now >= windowEnd) return;
    raw.wirePackets++;
    raw.wireBytes += bytes;
  };
  const cpu0 = process.cpuUsage();
  const fail = (message: string) => {
    raw.errors[message] = (raw.errors[message] ?? 0) + 1;
  };

  const record = (t0: number): Recorder => {
    const counted = t0 >= windowStart && t0 < windowEnd;
    let first: number | undefined;
    let last = 0;
    let tokens = 0;
    return {
      ack() {
        if (counted) raw.ackMs.push(performance.now() - t0);
      },
      // The server batches provider tokens arriving within a frame into one event, so count
      // the mock's word-sized tokens in each delta rather than events.
      token(delta: string) {
        const units = Math.max(1, delta.match(/\S+/g)?.length ?? 0);
        const now = performance.now();
        if (first === undefined) {
          first = now;
          if (counted) raw.ttftMs.push(now - t0);
        }
        last = now;
        tokens += units;
        raw.tokensTotal += units;
        if (now >= windowStart && now < windowEnd) raw.tokensInWindow += units;
      },
      fail: (message: string) => fail(message),
      done() {
        if (!counted) return;
        raw.completed++;
        if (first !== undefined && tokens > 1 && last > first) raw.streamRates.push(((tokens - 1) * 1000) / (last - first));
        if (first !== undefined) raw.endWaitMs.push(performance.now() - last);
      },
    };
  };

  await Promise.all(
    Array.from({ length: spec.n }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i / spec.n) * spec.cycleMs));
      while (performance.now() < windowEnd) {
        try {
          await one(i, record);
        } catch (err) {
          fail(describe(err));
          // A refused or failed request must not turn into a hot loop.
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }),
  );
  wire = () => undefined;
  const cpu = process.cpuUsage(cpu0);
  raw.clientCpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - start)) * 100;
  return raw;
}

function askOverSocket(socket: ClientSocket, question: string, unique: boolean, rec: Recorder, timeoutMs: number) {
  const id = `bench-${process.pid}-${++seq}`;
  const message = unique ? `${question} (question ${seq})` : question;
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('chat:token', onToken).off('chat:done', onDone).off('chat:error', onError);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error('no chat:done within timeout'));
    }, timeoutMs);
    const onToken = (e: ChatTokenEvent) => e.id === id && rec.token(e.delta);
    const onError = (e: ChatErrorEvent) => e.id === id && rec.fail(`chat:error ${e.code}`);
    const onDone = (e: ChatDoneEvent) => {
      if (e.id !== id) return;
      cleanup();
      if (e.status !== 'complete') rec.fail(`status ${e.status}`);
      rec.done();
      resolve();
    };
    socket.on('chat:token', onToken).on('chat:done', onDone).on('chat:error', onError);
    socket.emit('chat:send', { id, message }, (ack) => {
      if (ack.ok) return rec.ack();
      cleanup();
      reject(new Error(`refused: ${ack.error.code}`));
    });
  });
}

serveChild({
  async connect(payload: { url: string; tokens: string[]; concurrency?: number; timeoutMs?: number }) {
    const started = performance.now();
    const queue = payload.tokens.map((t, i) => ({ t, i }));
    const opened: ClientSocket[] = new Array(queue.length);
    await Promise.all(
      Array.from({ length: Math.min(payload.concurrency ?? 50, queue.length) }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) opened[next.i] = await connectOne(payload.url, next.t, payload.timeoutMs ?? 10_000);
      }),
    );
    sockets.push(...opened);
    return { connected: sockets.length, ms: performance.now() - started };
  },

  disconnect() {
    for (const s of sockets.splice(0)) s.close();
    return { connected: 0 };
  },

  /** Through Zmarty: `chat:send` emitted → first `chat:token` received, on the first N connected sockets. */
  async zmarty(spec: PhaseSpec & { requestTimeoutMs: number }) {
    if (sockets.length < spec.n) throw new Error(`only ${sockets.length} sockets connected, need ${spec.n}`);
    return runPhase(spec, (i, record) => askOverSocket(sockets[i]!, spec.message, spec.unique ?? false, record(performance.now()), spec.requestTimeoutMs));
  },

  /**
   * Baseline: the same mock called directly with the OpenAI SDK (one shared
   * client, as the server has), sending the very body the server sent, from
   * `create()` called → first non-empty content delta.
   */
  async baseline(spec: PhaseSpec & { mockUrl: string; body: Record<string, unknown>; requestTimeoutMs: number }) {
    const client = new OpenAI({ apiKey: 'bench-key', baseURL: spec.mockUrl, maxRetries: 0, timeout: spec.requestTimeoutMs });
    const body = { ...spec.body, stream: true } as OpenAI.Chat.ChatCompletionCreateParamsStreaming;
    return runPhase(spec, async (_i, record) => {
      const rec = record(performance.now());
      const stream = await client.chat.completions.create(body);
      let finish: string | null = null;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        if (choice?.delta.content) rec.token(choice.delta.content);
        if (choice?.finish_reason) finish = choice.finish_reason;
      }
      if (finish !== 'stop') rec.fail(`finish ${finish}`);
      rec.done();
    });
  },

  close() {
    for (const s of sockets.splice(0)) s.close();
  },
});
