import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { createAdapter } from '@socket.io/postgres-adapter';
import { Server as SocketServer } from 'socket.io';
import { createDb, type Db } from '../common/db';
import type { Env } from '../common/env';
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from '../common/events';
import type { Logger } from '../common/logger';
import { loadOrCreateSecrets } from '../common/secrets';
import { createApp } from './app';
import { createAnswerRegistry } from './chat/answer-registry';
import { createAnswerJournal } from './chat/answer-journal';
import { createInstancePresence } from './chat/instance-presence';
import { createRemoteAnswers } from './chat/remote-answers';
import { createChatRoutes } from './chat/chat.routes';
import { createChatService } from './chat/chat.service';
import { createAnswerCache } from './chat/answer-cache';
import { createMarketContextCache } from './chat/market-context';
import { createConversations } from './conversations/conversations.store';
import { registerChatHandlers } from './chat/chat.socket';
import { createLedger } from './credits/ledger';
import { createCreditsRoutes } from './credits/credits.routes';
import { createAnswersInFlight } from './credits/answers-in-flight';
import { createBalancePush } from './credits/balance-push';
import type { ServerConfig } from './config';
import { createPricer, parsePriceTable } from './credits/pricing';
import { createMarketRoutes } from './market/market.routes';
import { createSymbolDirectory } from './symbols/symbol-directory';
import { createMetrics } from './metrics/metrics';
import { socketEventMetrics } from './metrics/socket-metrics';
import { createHealth } from './health/health';
import { createQueueDepthReader } from './health/queue-depth';
import { createAlerts } from './alerts/alerts';
import { onAuthenticatedConnection, socketAuthMiddleware, userRoom } from './realtime/socket-auth';
import { poolForSocketAdapter } from './realtime/adapter-pool';
import { createModelRouter } from './router';
import { registerSignalHandlers } from './signals/signal.handlers';
import { registerSignalPush } from './signals/signal-push';
import { createVoiceService } from './voice';
import { createHttpDeliver } from './watchers-sync/outbox.deliver';
import { createOutboxRelay } from './watchers-sync/outbox.relay';
import { createWatchersUpsertHandler } from './watchers-sync/watchers-upsert.handler';
import { Hono } from 'hono';
import type { AuthedEnv } from './http/types';
import { createAuthStore } from './auth/gotrue.store';
import { createGoTrueRoutes } from './auth/gotrue.routes';
import type { PasswordHashOptions } from './auth/passwords';
import { createApiKeyCheck } from './auth/api-keys';
import { createTokenVerifier } from './auth/token-verifier';
import { createLimits } from './limits/limits';
import { createTierChanges } from './tiers/tier-changes';
import { applyTierSeeds, createTiers } from './tiers/tiers';
import type { InterServerEvents } from './realtime/inter-server';

export type ZmartyIo = SocketServer<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Everything the web process is built from: the parsed settings and the open pools. */
export interface ServerDeps {
  env: Env;
  /** Chat, voice, credits, webhook and lifecycle settings (server/config.ts). */
  config: ServerConfig;
  chatDb: Db;
  tradingDb: Db;
  log: Logger;
  /** HMAC secret of the watchers-upsert function: WEBHOOK_SECRET, or the one generated under DATA_DIR. */
  webhookSecret: string;
  /** Secrets for the embedded auth (when env.SUPABASE_URL is unset) — from env or DATA_DIR. */
  embeddedAuth?: { jwtSecret: string; anonKey: string; serviceRoleKey?: string };
  passwordHash?: PasswordHashOptions;
  /** The built web client to serve (default dist/client); tests point it at a fixture. */
  clientDir?: string;
  /** Every lookup of the chat's caches ('market_context', 'answer') and whether it hit (for a hit-ratio metric). */
  onCacheLookup?: (cache: string, hit: boolean) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  http: HttpServer;
  io: ZmartyIo;
  chatDb: Db;
  tradingDb: Db;
  close(): Promise<void>;
  /** Stops the outbox relay (tests simulate a relay outage with it). */
  relay: ReturnType<typeof createOutboxRelay>;
  /** This instance's alert evaluation (tests run one at once with `evaluate`). */
  alerts: ReturnType<typeof createAlerts>;
  /** Heartbeat and sweeper of this instance's answers (tests run a beat or a sweep at once). */
  answersInFlight: ReturnType<typeof createAnswersInFlight>;
  /** The out-of-process log of this instance's answers (benchmarks read its write figures). */
  journal: ReturnType<typeof createAnswerJournal>;
}

export interface ZmartyServer {
  /** The HTTP app (Hono), servable in-process before `listen`. */
  app: Hono;
  /** Listens on env.PORT, attaches Socket.IO, starts the relay, the signal push and the answers' heartbeat. */
  listen(): Promise<RunningServer>;
}

/**
 * The web process, built from its settings and pools without any I/O (as the
 * socket.io examples' `createApplication`): `listen()` does the I/O. Pools and
 * migrations are the caller's — `main.ts` opens and migrates once per process.
 */
export function createServer(options: ServerDeps): ZmartyServer {
  const { env, log, config, chatDb, tradingDb, webhookSecret } = options;

  const embedded = !env.SUPABASE_URL;
  const jwtSecret = env.SUPABASE_JWT_SECRET ?? options.embeddedAuth?.jwtSecret;
  const anonKey = env.SUPABASE_ANON_KEY ?? options.embeddedAuth?.anonKey;
  if (embedded && (!jwtSecret || !anonKey)) throw new Error('embedded auth needs SUPABASE_JWT_SECRET and SUPABASE_ANON_KEY (or DATA_DIR secrets)');
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, '');
  const issuer = env.SUPABASE_JWT_ISSUER ?? (embedded ? `${publicUrl}/auth/v1` : `${env.SUPABASE_URL!.replace(/\/$/, '')}/auth/v1`);
  const verifyToken = createTokenVerifier({
    jwtSecret,
    jwksUrl: env.SUPABASE_URL ? `${env.SUPABASE_URL.replace(/\/$/, '')}/auth/v1/.well-known/jwks.json` : undefined,
    issuer,
  });

  const limits = createLimits({
    pool: chatDb.pool,
    config: {
      signIn: { attempts: env.AUTH_RATE_LIMIT_ATTEMPTS, windowSeconds: env.AUTH_RATE_LIMIT_WINDOW_SECONDS },
      account: { freeAttempts: env.AUTH_ACCOUNT_FREE_ATTEMPTS, maxDelaySeconds: env.AUTH_ACCOUNT_MAX_DELAY_SECONDS },
    },
  });
  const authRoutes = embedded
    ? createGoTrueRoutes({
        store: createAuthStore(chatDb),
        verifyToken,
        jwtSecret: jwtSecret!,
        issuer,
        isApiKey: createApiKeyCheck(jwtSecret!),
        accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
        limits,
        trustProxyHops: env.TRUST_PROXY_HOPS,
        passwordHash: options.passwordHash,
        log,
      })
    : undefined;

  const ops = config.ops;
  // One cached reading of pg-boss's queues for /metrics, /healthz and the alerts.
  const queues = createQueueDepthReader({ tradingDb, timeoutMs: ops.health.dbTimeoutMs });
  const metrics = createMetrics({ tradingDb, queues });
  const router = createModelRouter({ ...config.router, log, onAttempt: metrics.observeAttempt });
  const voice = createVoiceService(config.voice);
  // Unknown model or missing price for anything that may answer is a startup error, never a silent 0.
  const pricer = createPricer(
    parsePriceTable(config.priceTable, { llm: router.configured(), voiceModels: voice.available && voice.modelId ? [voice.modelId] : [] }),
  );
  const ledger = createLedger({ chatDb });
  const tiers = createTiers({ chatDb, cacheMs: config.tiers.cacheMs });
  // Names this process on the reservations of the answers it runs (see answers-in-flight.ts).
  const instanceId = `${process.pid}-${randomUUID()}`;
  // Every answer's events are journaled in the chat database, so a client may resume it on any instance.
  const journal = createAnswerJournal({ chatDb, log, flushMs: config.lifecycle.journalFlushMs });
  const registry = createAnswerRegistry({ journal });
  const presence = createInstancePresence({ connection: chatDb.pool.options, instanceId, log });
  const remote = createRemoteAnswers({ chatDb, log, staleMs: config.lifecycle.staleMs, pollMs: config.lifecycle.journalFlushMs });
  let closing = false;
  const onCacheLookup = (cache: string, hit: boolean) => {
    metrics.recordCacheLookup(cache, hit);
    options.onCacheLookup?.(cache, hit);
  };
  const marketContext = createMarketContextCache({ tradingDb, log, maxAgeMs: config.chat.contextMaxAgeMs, onCacheLookup });
  const answerCache =
    config.chat.answerCacheTtlMs > 0 ? createAnswerCache({ chatDb, log, ttlMs: config.chat.answerCacheTtlMs, onCacheLookup }) : undefined;
  const chat = createChatService({
    instanceId,
    chatDb,
    tradingDb,
    ledger,
    router,
    pricer,
    voice,
    registry,
    conversations: createConversations({ chatDb }),
    marketContext,
    answerCache,
    log,
    metrics,
    tiers,
    perMinute: limits.chatPerMinute,
    tokenCoalesceMs: config.chat.tokenCoalesceMs,
    tokenEventsPerSecond: config.chat.tokenEventsPerSecond,
    earlyProviderStart: config.chat.earlyProviderStart,
  });

  const health = createHealth({
    databases: { chat: chatDb, trading: tradingDb },
    providers: () => {
      const { ok, providers } = router.health();
      return {
        ok,
        providers: providers.map((p) => {
          const at = metrics.lastProviderSuccess(p.provider);
          return { ...p, ...(at !== undefined ? { lastSuccessAt: new Date(at).toISOString() } : {}) };
        }),
      };
    },
    queues,
    queueDepthThreshold: ops.queueDepth,
    timeoutMs: ops.health.dbTimeoutMs,
    cacheMs: ops.health.cacheMs,
  });
  metrics.watchHealth(health);
  const alerts = createAlerts({
    chatDb,
    metrics,
    health,
    queues,
    log,
    instanceId,
    thresholds: { queueDepth: ops.queueDepth, errorRatePercent: ops.errorRatePercent, errorRateMinRequests: ops.errorRateMinRequests, providerErrors: ops.providerErrors, windowSeconds: ops.windowSeconds },
    evaluateMs: ops.evaluateMs,
    webhookUrl: ops.webhookUrl,
  });

  const answersInFlight = createAnswersInFlight({
    chatDb,
    ledger,
    log,
    progress: () => chat.progress(),
    heartbeatMs: config.lifecycle.heartbeatMs,
    staleMs: config.lifecycle.staleMs,
    sweepMs: config.lifecycle.sweepMs,
  });

  const watchersUpsert = createWatchersUpsertHandler({ tradingDb, secret: webhookSecret, toleranceMs: config.webhook.toleranceMs, log });
  const functions = new Hono<AuthedEnv>();
  functions.post('/watchers-upsert', (c) => watchersUpsert(c.req.raw));

  const app = createApp({
    chatDb,
    tradingDb,
    verifyToken,
    log,
    authRoutes,
    metrics,
    health,
    publicConfig: { supabaseUrl: embedded ? '' : env.SUPABASE_URL!, supabaseAnonKey: anonKey!, marketData: config.market.kind },
    symbolDirectory: createSymbolDirectory({ ...config.market, log }),
    clientDir: options.clientDir ?? path.resolve(import.meta.dirname, '../dist/client'),
    healthReports: { providers: () => router.health(), voice: () => ({ available: voice.available, cache: voice.cacheStats() }), watchersRelay: () => relay?.status() ?? { connected: false, leader: false } },
    routes: [
      { path: '/api', app: createMarketRoutes({ chatDb, tradingDb }), authenticated: true },
      { path: '/api', app: createCreditsRoutes({ chatDb, tradingDb, log, router, pricer, voice, tiers }), authenticated: true },
      { path: '/chat', app: createChatRoutes({ chat }), authenticated: true },
      { path: '/functions/v1', app: functions, authenticated: false },
    ],
  });

  let relay: ReturnType<typeof createOutboxRelay> | undefined;

  async function listen(): Promise<RunningServer> {
    await applyTierSeeds(chatDb, {
      free: { startingCredits: env.STARTING_CREDITS_FREE, ...config.tiers.freeSeed },
      pro: { startingCredits: env.STARTING_CREDITS_PRO },
    });
    // Read by the sign-up trigger (it runs in GoTrue's insert, where no env is in reach).
    await chatDb.query(`update zmarty_private.signup_settings set anonymous_starting_credits = $1`, [env.STARTING_CREDITS_ANONYMOUS]);
    const http = await new Promise<HttpServer>((resolve) => {
      const server = serve({ fetch: app.fetch, port: env.PORT, hostname: env.HOST }, () => resolve(server as HttpServer)) as HttpServer;
    });
    const port = (http.address() as AddressInfo).port;
    const sockets: ZmartyIo = new SocketServer(http, { serveClient: false, maxHttpBufferSize: 2e6 });
    // Emits to a room reach that room's sockets on every instance (a user's sockets may sit on several).
    sockets.adapter(
      createAdapter(poolForSocketAdapter(chatDb.pool, (err) => log.warn({ err: err.message }, 'socket.io adapter connection lost; it reconnects')), {
        tableName: 'zmarty_private.socket_io_attachments',
        errorHandler: (err) => log.warn({ err: err.message }, 'socket.io adapter error'),
      }),
    );
    const push = registerSignalPush({ io: sockets, tradingDb, log, onBroadcast: (_rows, result) => metrics.signalsPushed.inc(result.delivered) });
    // Local only: every instance hears every balance change from the database itself.
    const balances = createBalancePush({
      connection: chatDb.pool.options,
      log,
      emit: (userId, balance) => sockets.local.to(userRoom(userId)).emit('credits:balance', { balance }),
    });
    // A tier change reaches this instance's cache from the database itself (sql/chat/0020).
    const tierChanges = createTierChanges({ connection: chatDb.pool.options, log, tiers });
    // chat:abort for an answer another instance runs: every other instance is asked, and the one running it stops it.
    sockets.on('chat:abort', (request, ack) => ack(chat.abort(request.userId, request.id)));
    const abortElsewhere = (userId: string, id: string) =>
      new Promise<boolean>((resolve) => {
        // The adapter answers once every other instance has, or after its own timeout (5 s) with the answers that
        // came: an instance that is gone cannot be running the answer.
        sockets.serverSideEmit('chat:abort', { userId, id }, (_err: Error | null, aborted: boolean[]) => resolve(aborted.some(Boolean)));
      });
    sockets.use((_socket, next) => (closing ? next(Object.assign(new Error('unavailable'), { data: { code: 'unavailable', message: 'Zmarty is restarting' } })) : next()));
    sockets.use(socketAuthMiddleware(verifyToken, log));
    sockets.on('connection', (socket) => {
      metrics.sockets.inc();
      socketEventMetrics(metrics)(socket);
      socket.once('disconnect', () => metrics.sockets.dec());
      onAuthenticatedConnection(socket);
      registerChatHandlers(socket, { chat, registry, log, remote, abortElsewhere });
      registerSignalHandlers(socket, { push, chatDb, log });
    });

    // The outbox relay delivers user_symbols changes to the watchers-upsert function —
    // our own endpoint by default, or a deployed Supabase Edge Function.
    const outbox = createOutboxRelay({
      chatDb,
      deliver: createHttpDeliver({ url: config.webhook.url ?? `http://127.0.0.1:${port}/functions/v1/watchers-upsert`, secret: webhookSecret }),
      log,
    });
    relay = outbox;
    await outbox.start();
    await presence.start();
    journal.start();
    answersInFlight.start();
    alerts.start();
    await push.ready;
    await balances.ready;
    await tierChanges.ready;
    await marketContext.start();

    return {
      url: `http://127.0.0.1:${port}`,
      port,
      http,
      io: sockets,
      chatDb,
      tradingDb,
      relay: outbox,
      answersInFlight,
      alerts,
      journal,
      async close() {
        // New sockets and answers are refused from now on; answers in flight get
        // the drain to finish, then are cut and settled for what they delivered —
        // all before the pools close, so no reservation is left open.
        closing = true;
        const drained = await chat.drain(config.lifecycle.shutdownDrainMs);
        if (drained.finished + drained.aborted > 0) log.info(drained, 'shutdown: answers in flight settled');
        // The drained answers' last events (their done) reach the journal before this instance's presence goes.
        await journal.stop();
        await answersInFlight.stop();
        await alerts.stop();
        await presence.stop();
        await outbox.stop();
        await push.close();
        await balances.close();
        await tierChanges.close();
        await marketContext.close();
        registry.close();
        await sockets.close();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        await Promise.all([chatDb.close(), tradingDb.close()]);
      },
    };
  }

  return { app, listen };
}

export interface ServerOptions extends Omit<ServerDeps, 'chatDb' | 'tradingDb' | 'webhookSecret'> {
  /** Connection strings of already migrated databases. */
  chatUrl: string;
  tradingUrl: string;
  webhookSecret?: string;
}

/** Opens the pools and starts a server on migrated databases (tests, benchmarks; `main.ts` does the same in steps). */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const chatDb = createDb({ connectionString: options.chatUrl, max: options.env.DATABASE_POOL_MAX, applicationName: 'zmarty-server' });
  const tradingDb = createDb({ connectionString: options.tradingUrl, max: options.env.DATABASE_POOL_MAX, applicationName: 'zmarty-server' });
  const webhookSecret = options.webhookSecret ?? options.config.webhook.secret ?? (await loadOrCreateSecrets(options.env.DATA_DIR)).webhookSecret;
  try {
    return await createServer({ ...options, chatDb, tradingDb, webhookSecret }).listen();
  } catch (err) {
    await Promise.all([chatDb.close(), tradingDb.close()]);
    throw err;
  }
}
