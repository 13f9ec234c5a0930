import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/test-server';

/**
 * What the HTTP edge promises whatever the route: an oversized body does not
 * poison a keep-alive connection, unknown API paths answer JSON (not the
 * SPA's HTML), and every response carries the security headers.
 */
describe('HTTP edges of the real server', () => {
  let server: TestServer;
  let clientDir: string;

  beforeAll(async () => {
    // A stand-in for dist/client, so the SPA fallback is live in this test.
    clientDir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-client-'));
    await mkdir(path.join(clientDir, 'assets'));
    await writeFile(path.join(clientDir, 'index.html'), '<!doctype html><html><head><script type="module" src="/assets/app.js"></script></head><body>spa</body></html>');
    await writeFile(path.join(clientDir, 'assets/app.js'), 'console.log("app");');
    server = await startTestServer({}, { clientDir });
  });
  afterAll(async () => {
    await server?.close();
    await rm(clientDir, { recursive: true, force: true });
  });

  it('answers a 2 MB body with 413 JSON and the same keep-alive connection then answers two more requests', async () => {
    const agent = new Agent({ connections: 1, keepAliveTimeout: 30_000 });
    try {
      const big = await undiciFetch(`${server.url}/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message: 'x'.repeat(2 * 1024 * 1024) }),
        dispatcher: agent,
      });
      expect(big.status).toBe(413);
      expect(((await big.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
      expect(big.headers.get('connection')).toBe('close');
      // At once: a connection left open came down ~500 ms later under the next request.
      for (let i = 0; i < 2; i++) {
        const next = await undiciFetch(`${server.url}/api/config`, { dispatcher: agent });
        expect(next.status).toBe(200);
        expect(await next.json()).toHaveProperty('supabaseAnonKey');
      }
    } finally {
      await agent.close();
    }
  });

  it('answers JSON 404 for unknown paths under every API prefix, with or without a token; other GET paths get the SPA', async () => {
    const { accessToken } = await server.signUp();
    const paths = ['/api/nope', '/api/symbols/1/extra', '/functions/v1/nope', '/auth/v1/nope', '/chat/nope', '/healthz/nope', '/metrics/nope'];
    for (const token of [undefined, accessToken]) {
      for (const p of paths) {
        const res = await fetch(`${server.url}${p}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        expect({ p, status: res.status, type: res.headers.get('content-type') }).toEqual({ p, status: 404, type: expect.stringContaining('application/json') });
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
      }
    }
    // Known paths still ask for a token first.
    expect((await fetch(`${server.url}/api/me`)).status).toBe(401);
    for (const p of ['/', '/watchlist', '/signals/42']) {
      const res = await fetch(`${server.url}${p}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('spa');
    }
    const asset = await fetch(`${server.url}/assets/app.js`);
    expect(await asset.text()).toContain('console.log');
  });

  it('answers 405 with an Allow header for a known path with a wrong method', async () => {
    const cases = [
      { method: 'DELETE', path: '/api/me', allow: 'GET, PATCH, HEAD' },
      { method: 'PUT', path: '/api/symbols', allow: 'GET, POST, HEAD' },
      { method: 'GET', path: '/chat', allow: 'POST' },
      { method: 'GET', path: '/functions/v1/watchers-upsert', allow: 'POST' },
      { method: 'POST', path: '/healthz', allow: 'GET, HEAD' },
      { method: 'POST', path: '/api/config', allow: 'GET, HEAD' },
    ];
    for (const { method, path: p, allow } of cases) {
      const res = await fetch(`${server.url}${p}`, { method });
      expect({ p, method, status: res.status, allow: res.headers.get('allow') }).toEqual({ p, method, status: 405, allow });
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('method_not_allowed');
    }
  });

  it('sends the security headers on the HTML document and on API answers', async () => {
    for (const p of ['/', '/api/config', '/api/nope']) {
      const res = await fetch(`${server.url}${p}`);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, p).toContain("script-src 'self'");
      expect(csp, p).toContain("frame-ancestors 'none'");
      expect(csp, p).not.toContain('unsafe-inline');
      expect(res.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(res.headers.get('x-frame-options'), p).toBe('DENY');
      expect(res.headers.get('referrer-policy'), p).toBe('no-referrer');
    }
  });
});
