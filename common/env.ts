import { existsSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Every setting of every process, parsed once at start. Application code gets
 * the typed `Env`, never `process.env`. Each variable is documented in README.
 */
const port = z.coerce.number().int().min(0).max(65_535);
const optionalUrl = z.url({ protocol: /^https?$/ }).optional();
const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// or postgresql:// connection string')
  .optional();
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);

export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: port.default(8080),
    HOST: z.string().min(1).default('0.0.0.0'),
    PUBLIC_URL: optionalUrl,
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATA_DIR: z.string().min(1).default('.data'),
    EMBEDDED_PG_PORT: port.default(0),

    CHAT_DATABASE_URL: postgresUrl,
    TRADING_DATABASE_URL: postgresUrl,
    DATABASE_POOL_MAX: positiveInt.default(10),

    SUPABASE_URL: optionalUrl,
    SUPABASE_ANON_KEY: z.string().min(20).optional(),
    SUPABASE_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    SUPABASE_JWT_ISSUER: z.string().min(1).optional(),

    ACCESS_TOKEN_TTL_SECONDS: positiveInt.max(86_400).default(3600),
    AUTH_RATE_LIMIT_ATTEMPTS: positiveInt.default(10),
    AUTH_RATE_LIMIT_WINDOW_SECONDS: positiveInt.default(900),
    AUTH_ACCOUNT_FREE_ATTEMPTS: positiveInt.max(1000).default(5),
    AUTH_ACCOUNT_MAX_DELAY_SECONDS: positiveInt.max(86_400).default(900),
    TRUST_PROXY_HOPS: nonNegativeInt.max(10).default(0),
    // Seeds of the tier table's starting credits (server/tiers): unset leaves the table's value.
    STARTING_CREDITS_FREE: nonNegativeInt.optional(),
    STARTING_CREDITS_PRO: nonNegativeInt.optional(),
    STARTING_CREDITS_ANONYMOUS: nonNegativeInt.default(0),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.CHAT_DATABASE_URL) !== Boolean(env.TRADING_DATABASE_URL)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.CHAT_DATABASE_URL ? 'TRADING_DATABASE_URL' : 'CHAT_DATABASE_URL'],
        message: 'set both CHAT_DATABASE_URL and TRADING_DATABASE_URL, or neither for the embedded database',
      });
    }
    if (env.SUPABASE_URL && !env.SUPABASE_ANON_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SUPABASE_ANON_KEY'], message: 'required when SUPABASE_URL is set' });
    }
  });

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses an environment record with `schema`: empty strings count as unset; a
 * bad value throws a ConfigError with one line per variable, naming it, and
 * showing the value only when it cannot be a secret. Every process's config
 * goes through here.
 */
export function parseConfig<S extends z.ZodType>(schema: S, source: Record<string, string | undefined>): z.infer<S> {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'config');
    const got = cleaned[name];
    const shown = got === undefined || /SECRET|KEY|PASSWORD|LOGIN|URL|TABLE/.test(name) ? '' : ` (got ${JSON.stringify(got)})`;
    return `${name}: ${issue.message}${shown}`;
  });
  throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
}

/** The settings common to every process. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  return parseConfig(envSchema, source);
}

/**
 * The variables a process is configured from: `.env` (if present) under the
 * real environment, which wins. Read once, in a process's main; every parser
 * (common, server, pipeline) takes this same record.
 */
export function readEnvSource(dotenvPath = '.env'): Record<string, string | undefined> {
  const fromFile = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  return { ...fromFile, ...process.env };
}

/** The common settings from process.env over `.env`. */
export function loadEnv(dotenvPath = '.env'): Env {
  return parseEnv(readEnvSource(dotenvPath));
}
