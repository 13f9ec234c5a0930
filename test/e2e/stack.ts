import type { EdgeFacts } from '../../common/edge';
import { expect } from 'vitest';
import { createLogger } from '../../common/logger';
import { startPipeline, type RunningPipeline } from '../../pipeline/main';
import { ensureClientBuilt } from '../../scripts/client-build';
import { startMockElevenLabs, startMockOpenAI, type MockElevenLabs, type MockOpenAI, type MockReply } from '../mock-providers';
import type { RecordedRequest } from '../mock-providers';
import { startTestServer, type TestServer } from '../test-server';

/**
 * The whole product on loopback for a browser: the real server (embedded
 * auth, fresh migrated databases on the test Postgres) serving the built
 * client, the real pipeline on the simulated market, and the loopback xAI and
 * ElevenLabs mocks in their real wire formats.
 */
export interface E2eStack {
  server: TestServer;
  pipeline: RunningPipeline | null;
  llm: MockOpenAI;
  tts: MockElevenLabs;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Server env on top of the providers' (e.g. ACCESS_TOKEN_TTL_SECONDS). */
  env?: Record<string, string>;
  /** Run the signal pipeline (default true). */
  pipeline?: boolean;
  /** Delay between streamed tokens of the mock model's default reply. */
  tokenDelayMs?: number;
  /** Build the web client first when it is stale (default true); parallel test files share one build (scripts/client-build.ts locks it). */
  client?: boolean;
}

/**
 * Builds dist/client once per test file when the sources are newer than the
 * build (the server serves it). Files run in parallel workers: the build
 * itself is locked across processes in scripts/client-build.ts.
 */
let building: Promise<unknown> | undefined;
export function ensureClient(): Promise<unknown> {
  return (building ??= ensureClientBuilt());
}

/**
 * The mock model's default reply, as a function of what the server sent: it
 * repeats the system prompt's market line for the pair the user asked about.
 * An answer that quotes the stored signal therefore proves the signal went
 * database → prompt → provider → socket → page; it cannot come from the test.
 */
export function echoMarketFacts(request: RecordedRequest): MockReply {
  const messages: Array<{ role: string; content: unknown }> = request.body.messages ?? [];
  const system = messages.filter((m) => m.role === 'system').map((m) => String(m.content)).join('\n');
  const question = String([...messages].reverse().find((m) => m.role === 'user')?.content ?? '').toUpperCase();
  // Market lines read "- BTC/USDT 1h: last price …; signal LONG with score …".
  const line = system.split('\n').find((l) => {
    const base = /^- ([A-Z0-9]+)\//.exec(l)?.[1];
    return base !== undefined && new RegExp(`\\b${base}\\b`).test(question);
  });
  return { text: line ? `Here is the latest from the pipeline. ${line.slice(2)} Not financial advice.` : 'I have no market data for that pair yet.' };
}

export async function startStack(options: StackOptions = {}): Promise<E2eStack> {
  const started: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
  };
  try {
    const [llm, tts] = await Promise.all([
      startMockOpenAI({ reply: echoMarketFacts, tokenDelayMs: options.tokenDelayMs ?? 15 }),
      // A short pause per chunk, so audio arrives as a stream, not in one burst.
      startMockElevenLabs({ chunkDelayMs: 20 }),
      options.client === false ? undefined : ensureClient(),
    ]);
    started.push(() => llm.close(), () => tts.close());
    const server = await startTestServer({
      XAI_API_KEY: 'xai-e2e-key',
      XAI_BASE_URL: llm.url,
      ELEVENLABS_API_KEY: 'xi-e2e-key',
      ELEVENLABS_BASE_URL: tts.url,
      DATABASE_POOL_MAX: '4',
      ...options.env,
    });
    started.push(() => server.close());
    let pipeline: RunningPipeline | null = null;
    if (options.pipeline ?? true) {
      pipeline = await startPipeline({
        env: {
          TRADING_DATABASE_URL: server.tradingUrl,
          MARKET_DATA: 'simulated',
          // The journeys need calls to show: the simulated market has no edge, so 'edge' would withhold them.
          SIGNAL_PUBLISH: 'all',
          LOG_LEVEL: 'silent',
          WORKER_POLL_SECONDS: '0.5',
          WORKER_CONCURRENCY: '2',
          PIPELINE_DB_POOL_MAX: '3',
          PGBOSS_POOL_MAX: '3',
          JOB_RETRY_DELAY_SECONDS: '1',
        },
        log: createLogger({ level: 'silent' }),
        // A new watcher is ingested at once on its NOTIFY; the cron ticks would only add noise.
        schedules: false,
      });
      const running = pipeline;
      started.push(() => running.stop());
    }
    return { server, pipeline, llm, tts, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

export interface StoredSignal {
  id: number;
  direction: 'long' | 'short' | 'flat';
  score: number;
  entry: number;
  stop: number | null;
  take_profit: number | null;
  candle_time: Date;
  edge: EdgeFacts | null;
}

export async function latestSignal(stack: E2eStack, symbol: string, timeframe = '1h'): Promise<StoredSignal | undefined> {
  const [row] = await stack.server.tradingDb.query<StoredSignal>(
    'select id, direction, score, entry, stop, take_profit, candle_time, edge from public.signals where symbol = $1 and timeframe = $2 order by id desc limit 1',
    [symbol, timeframe],
  );
  return row;
}

/** Waits for the pipeline to have stored a signal for the pair (it ingests a new watcher at once). */
export async function pipelineSignal(stack: E2eStack, symbol: string): Promise<StoredSignal> {
  let found: StoredSignal | undefined;
  await expect.poll(async () => (found = await latestSignal(stack, symbol)), { timeout: 30_000, interval: 200 }).toBeDefined();
  return found!;
}
