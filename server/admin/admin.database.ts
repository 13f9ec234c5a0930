import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { prepareDatabases } from '../../common/databases';
import type { Env } from '../../common/env';
import { loadOrCreateSecrets } from '../../common/secrets';
import { AdminError } from './admin.commands';

/**
 * The chat database the server uses: CHAT_DATABASE_URL, or the embedded
 * cluster under DATA_DIR — the running one (`npm start` is up: its port is in
 * postmaster.pid), else started for the command and stopped after it.
 */
export async function openChatDatabase(env: Env, log: (m: string) => void): Promise<{ url: string; close(): Promise<void> }> {
  if (env.CHAT_DATABASE_URL) return { url: env.CHAT_DATABASE_URL, close: async () => undefined };
  const dir = path.join(path.resolve(env.DATA_DIR), 'pg');
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    throw new AdminError(`no database: set CHAT_DATABASE_URL, or run \`npm start\` once (the embedded database lives in ${dir})`);
  }
  const running = await runningPort(dir);
  if (running) {
    const { postgresPassword } = await loadOrCreateSecrets(env.DATA_DIR);
    return { url: `postgresql://postgres:${encodeURIComponent(postgresPassword)}@127.0.0.1:${running}/chat`, close: async () => undefined };
  }
  const databases = await prepareDatabases(env, log);
  return { url: databases.chatUrl, close: () => databases.stop() };
}

/**
 * The port of a cluster running on `dir`: postmaster.pid holds the PID on its
 * first line and the port on its fourth (PostgreSQL's documented layout).
 */
async function runningPort(dir: string): Promise<number | undefined> {
  const lockFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(lockFile)) return undefined;
  const lines = (await readFile(lockFile, 'utf8')).split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, but another OS user's (the cluster runs as `postgres` when we are root).
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return port;
}
