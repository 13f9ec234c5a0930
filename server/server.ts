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
import { createApp } from './app';
import { createAuthStore } from './auth/gotrue.store';
import { createGoTrueRoutes } from './auth/gotrue.routes';
import type { PasswordHashOptions } from './auth/passwords';
import { createTokenVerifier } from './auth/token-verifier';

export type ZmartyIo = SocketServer<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface ServerOptions {
  env: Env;
  chatUrl: string;
  tradingUrl: string;
  log: Logger;
  /** Secrets for the embedded auth (when env.SUPABASE_URL is unset) — from env or DATA_DIR. */
  embeddedAuth?: { jwtSecret: string; anonKey: string; serviceRoleKey?: string };
  passwordHash?: PasswordHashOptions;
}

export interface RunningServer {
  url: string;
  port: number;
  http: HttpServer;
  io: ZmartyIo;
  chatDb: Db;
  tradingDb: Db;
  close(): Promise<void>;
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

  const authRoutes = embedded
    ? createGoTrueRoutes({
        store: createAuthStore(chatDb),
        verifyToken,
        jwtSecret: jwtSecret!,
        issuer,
        apiKeys: [anonKey!, ...(options.embeddedAuth?.serviceRoleKey ? [options.embeddedAuth.serviceRoleKey] : [])],
        accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL_SECONDS,
        rateLimit: { attempts: env.AUTH_RATE_LIMIT_ATTEMPTS, windowSeconds: env.AUTH_RATE_LIMIT_WINDOW_SECONDS },
        passwordHash: options.passwordHash,
        log,
      })
    : undefined;

  const app = createApp({
    chatDb,
    tradingDb,
    verifyToken,
    log,
    authRoutes,
    publicConfig: { supabaseUrl: embedded ? '' : env.SUPABASE_URL!, supabaseAnonKey: anonKey! },
    clientDir: path.resolve(import.meta.dirname, '../dist/client'),
  });

  const http = await new Promise<HttpServer>((resolve) => {
    const server = serve({ fetch: app.fetch, port: env.PORT, hostname: env.HOST }, () => resolve(server as HttpServer)) as HttpServer;
  });
  const port = (http.address() as AddressInfo).port;
  const io: ZmartyIo = new SocketServer(http, { serveClient: false, maxHttpBufferSize: 1e6 });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    http,
    io,
    chatDb,
    tradingDb,
    async close() {
      await io.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await Promise.all([chatDb.close(), tradingDb.close()]);
    },
  };
}
