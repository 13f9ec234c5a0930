import pino from 'pino';

export type Logger = pino.Logger;

/** Structured one-line-per-event logs. Secrets are redacted by path as a second line of defence. */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name,
    level: options.level ?? 'info',
    redact: { paths: ['token', 'password', '*.password', 'authorization', '*.authorization', 'apiKey'], remove: true },
    base: { pid: process.pid },
  });
}
