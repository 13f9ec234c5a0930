import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareDatabases } from './databases';
import { canEnter, embeddedPostgresOsUser } from './embedded-postgres-access';
import { ConfigError, parseEnv } from './env';

const asRoot = process.getuid?.() === 0;
const dirs: string[] = [];
/** Exactly what `mktemp -d` makes: mode 0700, owned by us. */
const rootOnlyDir = async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-datadir-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('who may enter a directory', () => {
  const user = { uid: 101, gid: 104 };
  it.each([
    ['owner with u+x', { uid: 101, gid: 0, mode: 0o700 }, true],
    ['owner without u+x, even with o+x', { uid: 101, gid: 0, mode: 0o601 }, false],
    ['group with g+x', { uid: 0, gid: 104, mode: 0o710 }, true],
    ['group without g+x, even with o+x', { uid: 0, gid: 104, mode: 0o701 }, false],
    ['others with o+x', { uid: 0, gid: 0, mode: 0o711 }, true],
    ['root-only (mktemp -d)', { uid: 0, gid: 0, mode: 0o700 }, false],
  ])('%s', (_, dir, expected) => {
    expect(canEnter(dir, user)).toBe(expected);
  });
});

describe.skipIf(!asRoot)('a DATA_DIR the database OS user cannot enter (running as root)', () => {
  it('a root-only DATA_DIR works: it gets search permission only, and the cluster starts', { timeout: 120_000 }, async () => {
    const dataDir = await rootOnlyDir();
    const databases = await prepareDatabases(parseEnv({ DATA_DIR: dataDir }), () => undefined);
    try {
      const client = new pg.Client({ connectionString: databases.chatUrl });
      await client.connect();
      expect((await client.query('select 1 as ok')).rows[0].ok).toBe(1);
      await client.end();
    } finally {
      await databases.stop();
    }
    // o+x only: nobody else can list it, and the secrets stay the owner's.
    expect((await stat(dataDir)).mode & 0o777).toBe(0o701);
    expect((await stat(path.join(dataDir, 'secrets.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dataDir, 'pg'))).uid).toBe((await embeddedPostgresOsUser())!.uid);
  });

  it('a DATA_DIR under a root-only parent stops with one line naming DATA_DIR and the fix, and changes nothing', async () => {
    const parent = await rootOnlyDir();
    const dataDir = path.join(parent, 'zmarty');
    await mkdir(dataDir, { mode: 0o755 });
    const attempt = prepareDatabases(parseEnv({ DATA_DIR: dataDir }), () => undefined);
    await expect(attempt).rejects.toThrow(ConfigError);
    const message = await attempt.catch((err: Error) => err.message);
    expect(message).toBe(
      `DATA_DIR=${dataDir}: the embedded database runs as the OS user postgres (PostgreSQL refuses root), which cannot enter ${parent}; ` +
        `set DATA_DIR to a directory it can reach (e.g. /var/lib/zmarty), or allow it with: chmod o+x ${parent}`,
    );
    expect((await stat(parent)).mode & 0o777).toBe(0o700);
    expect(existsSync(path.join(dataDir, 'pg'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'secrets.json'))).toBe(false);
  });
});
