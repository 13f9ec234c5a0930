import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { parseConfig } from '../common/env';
import { DEFAULT_RESTART_POLICY, type RestartPolicy } from './restart-policy';

const positiveInt = z.coerce.number().int().positive();

/** Settings of `npm start`'s supervisor itself (the children parse their own). Each is listed in README. */
export const supervisorConfigSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The web process's drain on SIGTERM; children get this plus STOP_MARGIN_MS before SIGKILL. */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).default(20_000),
  /** `auto` builds the web client when dist/client is missing or stale; `skip` serves whatever is there. */
  CLIENT_BUILD: z.enum(['auto', 'skip']).default('auto'),
  SUPERVISOR_MAX_CRASHES: positiveInt.max(100).default(DEFAULT_RESTART_POLICY.maxCrashes),
  SUPERVISOR_CRASH_WINDOW_SECONDS: positiveInt.max(86_400).default(DEFAULT_RESTART_POLICY.windowMs / 1000),
});
export type SupervisorConfig = z.infer<typeof supervisorConfigSchema>;

/** Beyond the web's drain, for the pipeline's pg-boss stop and the processes' own exit. */
export const STOP_MARGIN_MS = 10_000;

/** process.env over `.env`, our variables only (the rest belongs to the children). */
export function loadSupervisorConfig(dotenvPath = '.env'): SupervisorConfig {
  const fromFile = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  const known = new Set(Object.keys(supervisorConfigSchema.shape));
  const source = Object.entries({ ...fromFile, ...process.env }).filter(([k]) => known.has(k));
  return parseConfig(supervisorConfigSchema, Object.fromEntries(source));
}

export function restartPolicyOf(config: SupervisorConfig): RestartPolicy {
  return { ...DEFAULT_RESTART_POLICY, maxCrashes: config.SUPERVISOR_MAX_CRASHES, windowMs: config.SUPERVISOR_CRASH_WINDOW_SECONDS * 1000 };
}
