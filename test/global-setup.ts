import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../common/embedded-postgres';

/**
 * One real PostgreSQL for the whole run: the embedded one, or the server named
 * by TEST_ADMIN_DATABASE_URL / CHAT_DATABASE_URL. Each test file then creates
 * databases of its own on it (see test/databases.ts).
 */
export default async function setup(project: TestProject) {
  const given = process.env.TEST_ADMIN_DATABASE_URL ?? process.env.CHAT_DATABASE_URL;
  if (given) {
    const url = new URL(given);
    url.pathname = '/postgres';
    project.provide('adminDatabaseUrl', url.toString());
    return;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-test-pg-'));
  // The postgres OS user (created when running as root) must be able to reach it.
  await import('node:fs/promises').then((fs) => fs.chmod(dir, 0o755));
  const server = await startEmbeddedPostgres({ dir: path.join(dir, 'pg'), password: 'test-password-' + process.pid });
  project.provide('adminDatabaseUrl', server.urlFor('postgres'));
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}
