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
});
