import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/test-server';

/** A raw GET (node:http does not decompress), so the test sees the bytes and headers on the wire. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

describe('the web client as delivered: compressed, hashed files cached for good, index.html revalidated', () => {
  let server: TestServer;
  let clientDir: string;
  // A stand-in for a Vite build: a hashed bundle well over the compression threshold.
  const bundle = `export const rows = [${Array.from({ length: 2000 }, (_, i) => `{id:${i},name:"row ${i}"}`).join(',')}];\n`;
  const html = `<!doctype html><html><head><title>Zmarty</title><script type="module" src="/assets/index-Ab12Cd34.js"></script></head><body>${'<!-- pad -->'.repeat(100)}</body></html>`;

  beforeAll(async () => {
    clientDir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-client-'));
    await mkdir(path.join(clientDir, 'assets'));
    await writeFile(path.join(clientDir, 'index.html'), html);
    await writeFile(path.join(clientDir, 'assets/index-Ab12Cd34.js'), bundle);
    await writeFile(path.join(clientDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    server = await startTestServer({}, { clientDir });
  });
  afterAll(async () => {
    await server?.close();
    await rm(clientDir, { recursive: true, force: true });
  });

  it('sends a hashed bundle gzip-compressed, immutable for a year, and varying on Accept-Encoding', async () => {
    const res = await get(`${server.url}/assets/index-Ab12Cd34.js`, { 'accept-encoding': 'gzip, deflate, br' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers.vary).toMatch(/accept-encoding/i);
    expect(res.body.length).toBeLessThan(bundle.length / 3);
    expect(gunzipSync(res.body).toString()).toBe(bundle);
  });

  it('sends it uncompressed to a client that accepts no encoding', async () => {
    const res = await get(`${server.url}/assets/index-Ab12Cd34.js`);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.toString()).toBe(bundle);
  });

  it('revalidates index.html and the SPA fallback on every load, compressed too', async () => {
    for (const url of ['/', '/index.html', '/some/client/route']) {
      const res = await get(`${server.url}${url}`, { 'accept-encoding': 'gzip' });
      expect(res.status, url).toBe(200);
      expect(res.headers['cache-control'], url).toBe('no-cache');
      expect(res.headers['content-encoding'], url).toBe('gzip');
      expect(gunzipSync(res.body).toString(), url).toBe(html);
      // The security headers still apply to the compressed document.
      expect(res.headers['content-security-policy'], url).toContain("default-src 'self'");
    }
  });

  it('does not mark unhashed files immutable, and leaves API answers as they were', async () => {
    const icon = await get(`${server.url}/favicon.svg`, { 'accept-encoding': 'gzip' });
    expect(icon.headers['cache-control']).toBe('no-cache');
    const api = await get(`${server.url}/api/config`, { 'accept-encoding': 'gzip' });
    expect(api.headers['cache-control'] ?? '').not.toContain('immutable');
    expect(api.headers['content-encoding']).toBeUndefined();
  });
});
