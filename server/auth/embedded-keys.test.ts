import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEnv } from '../../common/env';
import { signApiKey } from '../../common/secrets';
import { createApiKeyCheck } from './api-keys';
import { embeddedAuthKeys, sharedAuthProblems } from './embedded-keys';

const SECRET = 'shared-secret-'.padEnd(40, 's');
const DB = 'postgres://u:p@127.0.0.1:5432/chat';

/**
 * The embedded auth behaves the same on every instance: its API keys are
 * derived from the JWT secret (not stored per DATA_DIR), and where several
 * instances may share the users, secret and issuer must be set explicitly.
 */
describe('embedded auth keys and issuer on several instances', () => {
  it.each([
    { name: 'embedded database: the defaults hold', env: {}, problems: [] },
    { name: 'Supabase project: its own keys', env: { CHAT_DATABASE_URL: DB, SUPABASE_URL: 'https://x.supabase.co' }, problems: [] },
    { name: 'shared database, nothing set', env: { CHAT_DATABASE_URL: DB }, problems: ['SUPABASE_JWT_SECRET', 'PUBLIC_URL'] },
    { name: 'shared database, secret only', env: { CHAT_DATABASE_URL: DB, SUPABASE_JWT_SECRET: SECRET }, problems: ['PUBLIC_URL'] },
    { name: 'shared database, issuer instead of PUBLIC_URL', env: { CHAT_DATABASE_URL: DB, SUPABASE_JWT_SECRET: SECRET, SUPABASE_JWT_ISSUER: 'https://z/auth/v1' }, problems: [] },
    { name: 'shared database, both set', env: { CHAT_DATABASE_URL: DB, SUPABASE_JWT_SECRET: SECRET, PUBLIC_URL: 'https://zmarty.example' }, problems: [] },
  ])('$name', ({ env, problems }) => {
    expect(sharedAuthProblems(env).map((p) => p.split(':')[0])).toEqual(problems);
  });

  it('derives the same anon and service keys from the same secret whatever the DATA_DIR, valid as API keys there', async () => {
    const keys = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const dataDir = await mkdtemp(path.join(os.tmpdir(), `zmarty-keys-${name}-`));
        return embeddedAuthKeys(parseEnv({ DATA_DIR: dataDir, SUPABASE_JWT_SECRET: SECRET }));
      }),
    );
    expect(keys[0]).toEqual(keys[1]);
    const isApiKey = createApiKeyCheck(SECRET);
    expect(await isApiKey(keys[0]!.anonKey)).toBe(true);
    expect(await isApiKey(keys[0]!.serviceRoleKey)).toBe(true);
    expect(keys[0]!.anonKey).toBe(await signApiKey(SECRET, 'anon'));
  });

  it('refuses to start with a SUPABASE_ANON_KEY that the secret did not sign', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'zmarty-keys-'));
    const foreign = await signApiKey('another-secret-'.padEnd(40, 'o'), 'anon');
    await expect(embeddedAuthKeys(parseEnv({ DATA_DIR: dataDir, SUPABASE_JWT_SECRET: SECRET, SUPABASE_ANON_KEY: foreign }))).rejects.toThrow(/SUPABASE_ANON_KEY/);
  });
});
