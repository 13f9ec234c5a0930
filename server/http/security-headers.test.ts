import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { CHART_ATTRIBUTION_STYLE_HASH, securityHeaders } from './security-headers';

const cspOf = async (options: Parameters<typeof securityHeaders>[0]) => {
  const app = new Hono().use(securityHeaders(options)).get('/', (c) => c.text('ok'));
  return (await app.request('/')).headers.get('content-security-policy') ?? '';
};

describe('securityHeaders', () => {
  it('lets the browser connect to a configured Supabase origin, and only to our own origin otherwise', async () => {
    expect(await cspOf({ supabaseUrl: 'https://abcd.supabase.co/' })).toContain("connect-src 'self' https://abcd.supabase.co;");
    expect(await cspOf({})).toContain("connect-src 'self';");
  });

  it('allows the installed lightweight-charts attribution stylesheet by its exact hash', async () => {
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('lightweight-charts/package.json'));
    const source = await readFile(path.join(dir, 'dist/lightweight-charts.development.mjs'), 'utf8');
    const css = /^const css = `([^`]*)`;$/m.exec(source)?.[1];
    expect(css, 'the attribution stylesheet in lightweight-charts').toBeDefined();
    const hash = `'sha256-${createHash('sha256').update(css!).digest('base64')}'`;
    expect(hash).toBe(CHART_ATTRIBUTION_STYLE_HASH);
    expect(await cspOf({})).toContain(`style-src 'self' ${hash};`);
  });
});
