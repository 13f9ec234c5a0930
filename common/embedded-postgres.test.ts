import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from './embedded-postgres';

const PASSWORD = 'crash-test-password';

async function canQuery(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query('select 1 as ok');
  await client.end();
  return rows[0].ok === 1;
}

/** Runs a child that starts the cluster, reports ready, and waits to be killed. */
function startInChild(dir: string): Promise<{ kill(): void; exited: Promise<void> }> {
  const script = `
    import { startEmbeddedPostgres } from ${JSON.stringify(path.resolve(import.meta.dirname, 'embedded-postgres.ts'))};
    const pg = await startEmbeddedPostgres({ dir: ${JSON.stringify(dir)}, password: ${JSON.stringify(PASSWORD)} });
    process.stdout.write('ready ' + pg.port + '\\n');
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve({ kill: () => child.kill('SIGKILL'), exited });
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before ready`)));
  });
}

describe('embedded PostgreSQL', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-epg-'));
    await chmod(dir, 0o755);
    dirs.push(dir);
    return path.join(dir, 'pg');
  };
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('recovers after the process that started it was killed (orphaned postgres, stale lock and port)', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const first = await startInChild(dir);
    first.kill();
    await first.exited;
    // The orphan still holds postmaster.pid; a second start must take over, not fail.
    const second = await startEmbeddedPostgres({ dir, password: PASSWORD });
    try {
      await second.createDatabaseIfMissing('chat');
      expect(await canQuery(second.urlFor('chat'))).toBe(true);
    } finally {
      await second.stop();
    }
  });

  it('removes a lock file whose process is gone and reuses the data', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    const first = await startEmbeddedPostgres({ dir, password: PASSWORD });
    await first.createDatabaseIfMissing('trading');
    await first.stop();
    await writeFile(path.join(dir, 'postmaster.pid'), '999999\n' + dir + '\n');
    const again = await startEmbeddedPostgres({ dir, password: PASSWORD });
    try {
      expect(await canQuery(again.urlFor('trading'))).toBe(true);
    } finally {
      await again.stop();
    }
  });

  it('leaves SIGTERM to the process: the database stays up until the process stops it', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    // The child's own shutdown (like `npm start`'s: children first) still needs the database.
    const script = `
      import pg from 'pg';
      import { startEmbeddedPostgres } from ${JSON.stringify(path.resolve(import.meta.dirname, 'embedded-postgres.ts'))};
      const db = await startEmbeddedPostgres({ dir: ${JSON.stringify(dir)}, password: ${JSON.stringify(PASSWORD)} });
      process.on('SIGTERM', async () => {
        await new Promise((r) => setTimeout(r, 1500));
        const client = new pg.Client({ connectionString: db.urlFor('postgres') });
        await client.connect();
        await client.query('select 1');
        await client.end();
        process.stdout.write('drained\\n');
        await db.stop();
        process.exit(0);
      });
      process.stdout.write('ready\\n');
      setInterval(() => undefined, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 600 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(out).toContain('ready');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('drained');
    expect(existsSync(path.join(dir, 'postmaster.pid'))).toBe(false);
  });

  it('keeps the exit code a process set: a failed test run must not exit 0', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    // Vitest sets process.exitCode = 1 on failures and lets the process end by itself.
    const script = `
      import { startEmbeddedPostgres } from ${JSON.stringify(path.resolve(import.meta.dirname, 'embedded-postgres.ts'))};
      const db = await startEmbeddedPostgres({ dir: ${JSON.stringify(dir)}, password: ${JSON.stringify(PASSWORD)} });
      await db.stop();
      process.exitCode = 3;
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
    expect(await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))).toBe(3);
  });
});
