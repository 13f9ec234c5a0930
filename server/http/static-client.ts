import { serveStatic } from '@hono/node-server/serve-static';
import type { Context, Hono } from 'hono';
import { compress } from 'hono/compress';

/** Vite's hashed output: a changed file gets a new name, so a cached copy never goes stale. */
const HASHED = /^\/?assets\//;

/**
 * Serves the built web client: compressed (gzip or deflate, as the browser
 * accepts, for text types over 1 KiB), hashed files under `assets/` cached for
 * a year as immutable, everything else (index.html first) revalidated on every
 * load so a deploy is seen at once. Other GET paths get index.html (the app
 * routes in the browser); API paths never reach here (rejectUnroutable).
 */
export function serveClient(app: Hono, root: string): void {
  const cacheFor = (path: string, c: Context) => {
    const relative = path.startsWith(root) ? path.slice(root.length) : path;
    c.header('Cache-Control', HASHED.test(relative.replace(/\\/g, '/')) ? 'public, max-age=31536000, immutable' : 'no-cache');
  };
  app.use('/*', compress());
  app.use('/*', serveStatic({ root, onFound: cacheFor }));
  app.get('*', serveStatic({ root, path: 'index.html', onFound: cacheFor }));
}
