import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startWebProcess, type WebProcess } from '../../test/web-process';

const ADMIN_CLI = path.resolve(import.meta.dirname, 'admin.cli.ts');
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

function admin(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX_LOADER, ADMIN_CLI, ...args],
      // No database URL: the embedded default under DATA_DIR, as the server finds it.
      { cwd: dataDir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dataDir, DATA_DIR: dataDir }, timeout: 150_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run admin on the embedded default', () => {
  let web: WebProcess | undefined;
  let dataDir: string | undefined;
  afterAll(async () => {
    if (web && web.child.exitCode === null) {
      web.child.kill('SIGTERM');
      await web.exited;
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('uses the database of the web process running on DATA_DIR, and starts and stops it itself when none is running', { timeout: 400_000 }, async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-admin-embedded-'));
    const missing = await admin(dataDir, ['balance', 'nobody@example.com']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no database: set CHAT_DATABASE_URL, or run `npm start` once');

    web = await startWebProcess({ DATA_DIR: dataDir });
    const { supabaseAnonKey } = (await (await fetch(`${web.url}/api/config`)).json()) as { supabaseAnonKey: string };
    const email = `embedded-${Date.now()}@example.com`;
    const signUp = await fetch(`${web.url}/auth/v1/signup`, {
      method: 'POST',
      headers: { apikey: supabaseAnonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'correct horse battery' }),
    });
    const { access_token: token } = (await signUp.json()) as { access_token: string };

    const granted = await admin(dataDir, ['grant', email, '250', '--json']);
    expect(granted, granted.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(granted.stdout)).toMatchObject({ applied: true, balance: 1250 });
    const me = await (await fetch(`${web.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(me).toMatchObject({ email, balance: 1250 });

    web.child.kill('SIGTERM');
    await web.exited;
    // Nobody runs the cluster now: the command starts it, and stops it again when done.
    const balance = await admin(dataDir, ['balance', email, '--json']);
    expect(balance, balance.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(balance.stdout)).toMatchObject({ email, balance: 1250, tier: { tier: 'free' } });
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });
});
