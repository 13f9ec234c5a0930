/**
 * `npm run check:supabase`: applies the migrations to a Supabase-shaped pair
 * of databases and runs the product's database-level checks on them
 * (common/supabase-checks). Exits 1 when any check fails. Meant for a scratch
 * project or the local kit (README, "Checking a Supabase-shaped database"):
 * it migrates, and creates and deletes test users.
 */
import path from 'node:path';
import { z } from 'zod';
import { parseConfig, readEnvSource } from '../common/env';
import { formatResults, runSupabaseChecks } from '../common/supabase-checks/checks';

const postgresUrl = z.string().regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// or postgresql:// connection string');
const schema = z.object({
  CHECK_CHAT_DATABASE_URL: postgresUrl,
  CHECK_TRADING_DATABASE_URL: postgresUrl,
  CHECK_AUTH_ADMIN_DATABASE_URL: postgresUrl,
  CHECK_API_DATABASE_URL: postgresUrl,
  CHECK_EXPOSED_SCHEMAS: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*(,[a-z_][a-z0-9_]*)*$/, 'comma-separated schema names')
    .default('public')
    .transform((s) => s.split(',')),
});

const env = parseConfig(schema, readEnvSource());
const results = await runSupabaseChecks({
  chatUrl: env.CHECK_CHAT_DATABASE_URL,
  tradingUrl: env.CHECK_TRADING_DATABASE_URL,
  authAdminUrl: env.CHECK_AUTH_ADMIN_DATABASE_URL,
  apiUrl: env.CHECK_API_DATABASE_URL,
  exposedSchemas: env.CHECK_EXPOSED_SCHEMAS,
  sqlDir: path.resolve(import.meta.dirname, '../sql'),
});
console.log(formatResults(results));
const failed = results.filter((r) => !r.ok).length;
console.log(failed ? `\n${failed} of ${results.length} checks failed` : `\nall ${results.length} checks passed`);
process.exit(failed ? 1 : 0);
