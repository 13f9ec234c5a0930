import type { Env } from '../../common/env';
import { ConfigError } from '../../common/env';
import { loadOrCreateSecrets, signApiKey } from '../../common/secrets';
import { createApiKeyCheck } from './api-keys';

export interface EmbeddedAuthKeys {
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
}

/**
 * Why the embedded auth may not default its secret and issuer, or undefined
 * when it may. The defaults (a secret generated under DATA_DIR, the issuer
 * `http://localhost:$PORT/auth/v1`) are one machine's: they hold only when
 * this process owns its database, the embedded PostgreSQL under DATA_DIR
 * (`npm start` passes its children both values explicitly). With
 * CHAT_DATABASE_URL set, any number of instances may share the users, and a
 * token minted by one must verify on all: the secret and the issuer must then
 * be configured, the same everywhere.
 */
export function sharedAuthProblems(env: Pick<Env, 'SUPABASE_URL' | 'CHAT_DATABASE_URL' | 'SUPABASE_JWT_SECRET' | 'PUBLIC_URL' | 'SUPABASE_JWT_ISSUER'>): string[] {
  if (env.SUPABASE_URL || !env.CHAT_DATABASE_URL) return [];
  const problems: string[] = [];
  const why = 'required with CHAT_DATABASE_URL and the embedded auth: every instance sharing the database must sign and verify tokens alike';
  if (!env.SUPABASE_JWT_SECRET) problems.push(`SUPABASE_JWT_SECRET: ${why} (set the same secret, ≥ 32 characters, on each)`);
  if (!env.PUBLIC_URL && !env.SUPABASE_JWT_ISSUER) problems.push(`PUBLIC_URL: ${why} (the public origin clients use, the tokens' issuer; or SUPABASE_JWT_ISSUER)`);
  return problems;
}

/**
 * The embedded auth's secret and API keys, when no Supabase project is
 * configured: the keys are derived from the secret (as Supabase's are JWTs
 * signed with the project secret), so every instance with the secret has the
 * same keys. A SUPABASE_ANON_KEY given must be such a key. Stops the start
 * with a ConfigError naming each problem.
 */
export async function embeddedAuthKeys(env: Env): Promise<EmbeddedAuthKeys | undefined> {
  if (env.SUPABASE_URL) return undefined;
  const problems = sharedAuthProblems(env);
  if (problems.length) throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  const jwtSecret = env.SUPABASE_JWT_SECRET ?? (await loadOrCreateSecrets(env.DATA_DIR)).jwtSecret;
  if (env.SUPABASE_ANON_KEY && !(await createApiKeyCheck(jwtSecret)(env.SUPABASE_ANON_KEY))) {
    throw new ConfigError('Invalid configuration:\n  SUPABASE_ANON_KEY: not a key signed with SUPABASE_JWT_SECRET (leave it unset: the embedded auth derives it from the secret)');
  }
  return { jwtSecret, anonKey: await signApiKey(jwtSecret, 'anon'), serviceRoleKey: await signApiKey(jwtSecret, 'service_role') };
}
