import type { Hono, MiddlewareHandler } from 'hono';
import { TrieRouter } from 'hono/router/trie-router';
import { AppError } from '../../common/errors';

/**
 * The paths that belong to the API. Under them a request no route takes is a
 * JSON 404 (or 405 when another method would match), never the SPA's
 * index.html: a client that mistypes a path must see an error, not a 200.
 */
export const API_PREFIXES = ['/api', '/functions/v1', '/auth/v1', '/chat', '/healthz', '/metrics'] as const;

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

const isUnder = (path: string, prefixes: readonly string[]) => prefixes.some((p) => path === p || path.startsWith(`${p}/`));

/**
 * Answers 404/405 for requests under `prefixes` that no route of `app` takes.
 * Registered before the auth middleware, so an unknown path is a 404 even
 * without a token (the route list is public in docs/PROTOCOL.md; nothing leaks).
 * The route table is read from `app.routes` on the first request, once every
 * route is registered.
 */
export function rejectUnroutable(app: Hono, prefixes: readonly string[] = API_PREFIXES): MiddlewareHandler {
  let table: TrieRouter<true> | undefined;
  const build = () => {
    const router = new TrieRouter<true>();
    for (const route of app.routes) {
      if (!isUnder(route.path, prefixes)) continue;
      // `use()` registers middleware as method ALL on a wildcard path; it routes nothing by itself.
      if (route.method === 'ALL' && route.path.endsWith('*')) continue;
      router.add(route.method, route.path, true);
    }
    return router;
  };
  return async (c, next) => {
    const path = c.req.path;
    if (!isUnder(path, prefixes)) return next();
    table ??= build();
    const router = table;
    const allowed = METHODS.filter((m) => router.match(m, path)[0].length > 0);
    // Hono answers HEAD with the GET route.
    const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
    if ((allowed as readonly string[]).includes(method)) return next();
    if (allowed.length === 0) throw new AppError('not_found', `No route for ${c.req.method} ${path}`);
    const allow = [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : [])].join(', ');
    throw new AppError('method_not_allowed', `${c.req.method} is not allowed on ${path}; allowed: ${allow}`, { headers: { Allow: allow } });
  };
}
