import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { Server as SocketServer } from 'socket.io';
import { createDb, type Db } from '../common/db';
import type { Env } from '../common/env';
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from '../common/events';
import type { Logger } from '../common/logger';
import { migrate } from '../common/migrate';
import { loadOrCreateSecrets } from '../common/secrets';
import { createApp } from './app';
import { createAnswerRegistry } from './chat/answer-registry';
import { createChatRoutes } from './chat/chat.routes';
import { createChatService } from './chat/chat.service';
import { registerChatHandlers } from './chat/chat.socket';
import { createLedger } from './credits/ledger';
import { createCreditsRoutes } from './credits/credits.routes';
import { createAnswersInFlight } from './credits/answers-in-flight';
import { parseServerConfig, type ServerConfig } from './config';
import { createPricer, parsePriceTable } from './credits/pricing';
import { createMarketRoutes } from './market/market.routes';
import { createMetrics } from './metrics/metrics';
import { onAuthenticatedConnection, socketAuthMiddleware, userRoom } from './realtime/socket-auth';
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
import { createTokenVerifier } from './auth/token-verifier';
import { createLimits } from './limits/limits';

export type ZmartyIo = SocketServer<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface ServerOptions {
  env: Env;
  /** Chat, voice, credits and webhook settings; parsed from process.env when absent. */
  config?: ServerConfig;
  chatUrl: string;
  tradingUrl: string;
  log: Logger;
  /** Secrets for the embedded auth (when env.SUPABASE_URL is unset) — from env or DATA_DIR. */
  embeddedAuth?: { jwtSecret: string; anonKey: string; serviceRoleKey?: string };
  passwordHash?: PasswordHashOptions;
  /** The built web client to serve (default dist/client); tests point it at a fixture. */
  clientDir?: string;
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
  /** Heartbeat and sweeper of this instance's answers (tests run a beat or a sweep at once). */
  answersInFlight: ReturnType<typeof createAnswersInFlight>;
}

const SQL_DIR = path.resolve(import.meta.dirname, '../sql');

/** The server's composition root: pools, migrations, auth, HTTP + Socket.IO on one port. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { env, log } = options;
  const chatDb = createDb({ connectionString: options.chatUrl, max: env.DATABASE_POOL_MAX, applicationName: 'zmarty-server' });
  const tradingDb = createDb({ connectionString: options.tradingUrl, max: env.DATABASE_POOL_MAX, applicationName: 'zmarty-server' });
  await migrate(chatDb.pool, path.join(SQL_DIR, 'chat'));
  await migrate(tradingDb.pool, path.join(SQL_DIR, 'trading'));
  await chatDb.query(
    `insert into public.tier_grants (tier, starting_credits) values ('free', $1), ('pro', $2)
     on conflict (tier) do update set starting_credits = excluded.starting_credits`,
    [env.STARTING_CREDITS_FREE, env.STARTING_CREDITS_PRO],
  );

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

  const config = options.config ?? parseServerConfig(process.env);
  const limits = createLimits({
    pool: chatDb.pool,
    config: {
      signIn: { attempts: env.AUTH_RATE_LIMIT_ATTEMPTS, windowSeconds: env.AUTH_RATE_LIMIT_WINDOW_SECONDS },
      account: { freeAttempts: env.AUTH_ACCOUNT_FREE_ATTEMPTS, maxDelaySeconds: env.AUTH_ACCOUNT_MAX_DELAY_SECONDS },
      chatPerMinute: config.chat.maxPerMinute,
    },
  });
  const authRoutes = embedded
    ? createGoTrueRoutes({
        store: createAuthStore(chatDb),
        verifyToken,
        jwtSecret: jwtSecret!,
        issuer,
        apiKeys: [anonKey!, ...(options.embeddedAuth?.serviceRoleKey ? [options.embeddedAuth.serviceRoleKey] : [])],
        accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
        limits,
        trustProxyHops: env.TRUST_PROXY_HOPS,
        passwordHash: options.passwordHash,
        log,
      })
    : undefined;

  const metrics = createMetrics();
  const router = createModelRouter({ ...config.router, log });
  const voice = createVoiceService(config.voice);
  // Unknown model or missing price for anything that may answer is a startup error, never a silent 0.
  const pricer = createPricer(
    parsePriceTable(config.priceTable, { llm: router.configured(), voiceModels: voice.available && voice.modelId ? [voice.modelId] : [] }),
  );
  const ledger = createLedger({ chatDb });
  const registry = createAnswerRegistry();
  // Names this process on the reservations of the answers it runs (see answers-in-flight.ts).
  const instanceId = `${process.pid}-${randomUUID()}`;
  let io: ZmartyIo | undefined;
  let closing = false;
  const chat = createChatService({
    instanceId,
    chatDb,
    tradingDb,
    ledger,
    router,
    pricer,
    voice,
    registry,
    log,
    metrics,
    maxOutputTokens: config.chat.maxOutputTokens,
    maxConcurrentPerUser: config.chat.maxConcurrentPerUser,
    maxPerMinute: config.chat.maxPerMinute,
    perMinute: limits.chatPerMinute,
    tokenCoalesceMs: config.chat.tokenCoalesceMs,
    onBalance: (userId, balance) => io?.to(userRoom(userId)).emit('credits:balance', { balance }),
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

  const webhookSecret = config.webhook.secret ?? (await loadOrCreateSecrets(env.DATA_DIR)).webhookSecret;
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
    publicConfig: { supabaseUrl: embedded ? '' : env.SUPABASE_URL!, supabaseAnonKey: anonKey! },
    clientDir: options.clientDir ?? path.resolve(import.meta.dirname, '../dist/client'),
    healthReports: { providers: () => router.health(), voice: () => ({ available: voice.available, cache: voice.cacheStats() }), watchersRelay: () => relay.status() },
    routes: [
      { path: '/api', app: createMarketRoutes({ chatDb, tradingDb }), authenticated: true },
      { path: '/api', app: createCreditsRoutes({ chatDb, tradingDb, log, router, pricer, voice, maxOutputTokens: config.chat.maxOutputTokens }), authenticated: true },
      { path: '/chat', app: createChatRoutes({ chat }), authenticated: true },
      { path: '/functions/v1', app: functions, authenticated: false },
    ],
  });

  const http = await new Promise<HttpServer>((resolve) => {
    const server = serve({ fetch: app.fetch, port: env.PORT, hostname: env.HOST }, () => resolve(server as HttpServer)) as HttpServer;
  });
  const port = (http.address() as AddressInfo).port;
  io = new SocketServer(http, { serveClient: false, maxHttpBufferSize: 2e6 });
  const push = registerSignalPush({ io, tradingDb, log });
  io.use((_socket, next) => (closing ? next(Object.assign(new Error('unavailable'), { data: { code: 'unavailable', message: 'Zmarty is restarting' } })) : next()));
  io.use(socketAuthMiddleware(verifyToken, log));
  io.on('connection', (socket) => {
    metrics.sockets.inc();
    socket.once('disconnect', () => metrics.sockets.dec());
    onAuthenticatedConnection(socket);
    registerChatHandlers(socket, { chat, registry, log });
    registerSignalHandlers(socket, { push, chatDb, log });
  });

  // The outbox relay delivers user_symbols changes to the watchers-upsert function —
  // our own endpoint by default, or a deployed Supabase Edge Function.
  const relay = createOutboxRelay({
    chatDb,
    deliver: createHttpDeliver({ url: config.webhook.url ?? `http://127.0.0.1:${port}/functions/v1/watchers-upsert`, secret: webhookSecret }),
    log,
  });
  await relay.start();
  answersInFlight.start();
  await push.ready;
  const sockets = io;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    http,
    io: sockets,
    chatDb,
    tradingDb,
    relay,
    answersInFlight,
    async close() {
      // New sockets and answers are refused from now on; answers in flight get
      // the drain to finish, then are cut and settled for what they delivered —
      // all before the pools close, so no reservation is left open.
      closing = true;
      const drained = await chat.drain(config.lifecycle.shutdownDrainMs);
      if (drained.finished + drained.aborted > 0) log.info(drained, 'shutdown: answers in flight settled');
      await answersInFlight.stop();
      await relay.stop();
      await push.close();
      registry.close();
      await sockets.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await Promise.all([chatDb.close(), tradingDb.close()]);
    },
  };
}
