import { existsSync } from 'node:fs';
import path from 'node:path';
import { Hono } from 'hono';
import type { Db } from '../common/db';
import { AppError, toErrorBody } from '../common/errors';
import type { Logger } from '../common/logger';
import { requireUser } from './auth/require-user';
import type { TokenVerifier } from './auth/token-verifier';
import { createHealth, type Health } from './health/health';
import { createHealthRoutes } from './health/health.routes';
import { createMetricsRoutes, metricsMiddleware, type Metrics } from './metrics/metrics';
import { limitBody } from './http/body-limit';
import { securityHeaders } from './http/security-headers';
import { serveClient } from './http/static-client';
import type { AuthedEnv } from './http/types';
import { rejectUnroutable } from './http/unknown-routes';
import { createConversationRoutes } from './conversations/conversations.routes';
import { createProfileRoutes } from './profile/profile.routes';
import type { SymbolDirectory } from './symbols/symbol-directory';
import { createSymbolsRoutes } from './symbols/symbols.routes';
import type { MarketKind } from '../common/market-env';

export interface AppDeps {
  chatDb: Db;
  tradingDb: Db;
  verifyToken: TokenVerifier;
  log: Logger;
  /** What the browser needs to create its Supabase client (public values only). */
  publicConfig: { supabaseUrl: string; supabaseAnonKey: string; /** Shown by the client ("Simulated market data"). */ marketData?: MarketKind };
  /** The market source's tradable pairs: adding any other pair is refused. */
  symbolDirectory: SymbolDirectory;
  /** The embedded GoTrue routes, when no Supabase project is configured. */
  authRoutes?: Hono;
  /** Feature routes mounted by the composition root at `path` (from the root), behind auth or not. */
  routes?: Array<{ path: string; app: Hono<AuthedEnv>; authenticated: boolean }>;
  /** The health checks behind /healthz (default: both databases only). */
  health?: Health;
  healthReports?: Record<string, () => unknown>;
  metrics?: Metrics;
  /** Built client (vite build output); served when present. */
  clientDir?: string;
  maxBodyBytes?: number;
}

/** Builds the HTTP app. No I/O here: tests build it with their own deps. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();

  app.onError((err, c) => {
    const { status, body, headers } = toErrorBody(err);
    if (!(err instanceof AppError)) deps.log.error({ err, path: c.req.path, method: c.req.method }, 'unhandled error');
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    // supabase-js reads GoTrue's `error_code`/`msg`; keep our shape and add theirs on auth routes.
    const extra = c.req.path.startsWith('/auth/v1') ? { error_code: body.error.code, msg: body.error.message } : {};
    return c.json({ ...body, ...extra }, status as 400);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}` } }, 404));

  app.use('*', securityHeaders({ supabaseUrl: deps.publicConfig.supabaseUrl || undefined }));
  if (deps.metrics) {
    app.use('*', metricsMiddleware(deps.metrics));
    app.route('/metrics', createMetricsRoutes(deps.metrics));
  }
  app.use('*', limitBody(deps.maxBodyBytes ?? 64 * 1024));
  // Before any auth middleware: an unknown API path is 404 (405 for a wrong method) even without a token.
  app.use('*', rejectUnroutable(app));

  const health = deps.health ?? createHealth({ databases: { chat: deps.chatDb, trading: deps.tradingDb } });
  app.route('/healthz', createHealthRoutes({ health, reports: deps.healthReports }));
  app.get('/api/config', (c) => c.json(deps.publicConfig));
  if (deps.authRoutes) app.route('/auth/v1', deps.authRoutes);

  const api = new Hono<AuthedEnv>();
  api.use('*', requireUser(deps.verifyToken));
  api.route('/', createProfileRoutes({ chatDb: deps.chatDb }));
  api.route('/symbols', createSymbolsRoutes({ chatDb: deps.chatDb, directory: deps.symbolDirectory }));
  api.route('/conversations', createConversationRoutes({ chatDb: deps.chatDb }));
  app.route('/api', api);
  for (const route of deps.routes ?? []) {
    if (!route.authenticated) {
      app.route(route.path, route.app as unknown as Hono);
      continue;
    }
    const guarded = new Hono<AuthedEnv>();
    guarded.use('*', requireUser(deps.verifyToken));
    guarded.route('/', route.app);
    app.route(route.path, guarded);
  }

  if (deps.clientDir && existsSync(path.join(deps.clientDir, 'index.html'))) {
    serveClient(app, path.relative(process.cwd(), deps.clientDir));
  }
  return app;
}
