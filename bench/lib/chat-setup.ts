/**
 * The server side of the chat benchmark: fresh databases, the real server
 * (`startServer`, in this process) configured with the mock as xAI Grok, and
 * bench users signed up through the embedded auth, each with a two-pair
 * watchlist and plenty of credits.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from '../../common/env';
import { createLogger } from '../../common/logger';
import { signApiKey } from '../../common/secrets';
import { parseServerConfig } from '../../server/config';
import { startServer, type RunningServer } from '../../server/server';
import { openBenchDatabases, type BenchDatabases } from './databases';

export interface BenchUser {
  userId: string;
  accessToken: string;
}

export interface ChatBench {
  server: RunningServer;
  databases: BenchDatabases;
  /** Signed-up users so far; `addUsers` signs up more (each with the watchlist). */
  users: BenchUser[];
  addUsers(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function withTimeout<T>(label: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: timed out after ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startChatBench(options: {
  /** Users signed up at start. */
  users: number;
  /** Most users the run will sign up (sizes the per-IP sign-up limit). */
  maxUsers: number;
  mockUrl: string;
  log: (m: string) => void;
}): Promise<ChatBench> {
  const { log } = options;
  const databases = await withTimeout('databases', 180_000, openBenchDatabases(log));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-bench-data-'));
  const removeOnExit = () => rmSync(dataDir, { recursive: true, force: true });
  process.once('exit', removeOnExit);
  let server: RunningServer | undefined;
  const close = async () => {
    await server?.close().catch((err) => log(`server close failed: ${(err as Error).message}`));
    await databases.close().catch((err) => log(`database cleanup failed: ${(err as Error).message}`));
    await rm(dataDir, { recursive: true, force: true });
    process.off('exit', removeOnExit);
  };
  try {
    const jwtSecret = 'bench-secret-' + 'x'.repeat(40);
    const anonKey = await signApiKey(jwtSecret, 'anon');
    const env = parseEnv({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      NODE_ENV: 'production',
      DATA_DIR: dataDir,
      DATABASE_POOL_MAX: process.env.DATABASE_POOL_MAX,
      // Sign-ups are limited per IP; every bench user comes from 127.0.0.1.
      AUTH_RATE_LIMIT_ATTEMPTS: String(Math.max(10, options.maxUsers)),
      STARTING_CREDITS_FREE: '10000000',
    });
    // Only what the benchmark says: never the developer's own provider keys from the environment.
    const config = parseServerConfig({
      XAI_API_KEY: 'bench-key',
      XAI_BASE_URL: options.mockUrl,
      WEBHOOK_SECRET: 'bench-webhook-secret-'.padEnd(40, 'w'),
      // One user per client; the limits must not be what is measured.
      CHAT_MAX_CONCURRENT_PER_USER: '4',
      CHAT_MAX_PER_MINUTE: '10000',
      // Honoured for A/B runs (unset: the defaults, as in production).
      CHAT_EARLY_PROVIDER_START: process.env.CHAT_EARLY_PROVIDER_START,
      CHAT_TOKEN_EVENTS_PER_SECOND: process.env.CHAT_TOKEN_EVENTS_PER_SECOND,
    });
    server = await withTimeout(
      'server start',
      60_000,
      startServer({
        env,
        config,
        log: createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' }),
        chatUrl: databases.chatUrl,
        tradingUrl: databases.tradingUrl,
        embeddedAuth: { jwtSecret, anonKey },
        // Cheap hashing: sign-up cost is not what this benchmark measures.
        passwordHash: { cost: 2 ** 10 },
      }),
    );
    const running = server;
    const users: BenchUser[] = [];
    const addUsers = async (count: number) => {
      if (count <= 0) return;
      const added = await withTimeout('sign-ups', 300_000, signUpUsers(running.url, anonKey, users.length, count));
      await withTimeout('watchlists', 180_000, addWatchlists(running, added));
      users.push(...added);
      log(`${users.length} users signed up`);
    };
    await addUsers(options.users);
    log(`server on ${server.url} (database pool max ${env.DATABASE_POOL_MAX})`);
    return { server, databases, users, addUsers, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function signUpUsers(url: string, anonKey: string, first: number, count: number): Promise<BenchUser[]> {
  const users: BenchUser[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(8, count) }, async () => {
      for (let i = next++; i < count; i = next++) {
        const res = await fetch(`${url}/auth/v1/signup`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', apikey: anonKey, authorization: `Bearer ${anonKey}` },
          body: JSON.stringify({ email: `bench-trader-${first + i}@example.com`, password: 'correct horse battery staple' }),
        });
        const body = (await res.json()) as { access_token?: string; user?: { id: string }; msg?: string; message?: string };
        if (!res.ok || !body.access_token || !body.user) throw new Error(`sign-up ${i} failed: ${res.status} ${JSON.stringify(body)}`);
        users[i] = { userId: body.user.id, accessToken: body.access_token };
      }
    }),
  );
  return users;
}

/**
 * Two watched pairs each, so every answer gathers real context (the RLS
 * watchlist query and the market snapshot). The rows' outbox events are
 * relayed to the trading database before anything is measured.
 */
async function addWatchlists(server: RunningServer, users: BenchUser[]): Promise<void> {
  await server.chatDb.query(
    `insert into public.user_symbols (user_id, symbol, timeframe)
     select u, p.symbol, p.timeframe from unnest($1::uuid[]) u
     cross join (values ('BTC/USDT', '1h'), ('ETH/USDT', '4h')) as p(symbol, timeframe)`,
    [users.map((u) => u.userId)],
  );
  for (;;) {
    const [row] = await server.chatDb.query<{ n: number }>('select count(*)::int as n from public.watchers_outbox where delivered_at is null');
    if (!row?.n) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}
