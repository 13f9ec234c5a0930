import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from './env';

describe('configuration', () => {
  it('has working defaults for the embedded mode', () => {
    expect(parseEnv({})).toMatchObject({ PORT: 8080, DATA_DIR: '.data', ACCESS_TOKEN_TTL_SECONDS: 3600, TRUST_PROXY_HOPS: 0, AUTH_ACCOUNT_FREE_ATTEMPTS: 5, AUTH_ACCOUNT_MAX_DELAY_SECONDS: 900 });
  });

  it('treats empty strings as unset', () => {
    expect(parseEnv({ PORT: '', SUPABASE_URL: '' }).PORT).toBe(8080);
  });

  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: 'eighty' }, /^ {2}PORT: .*\(got "eighty"\)$/m],
    [{ PORT: '70000' }, /^ {2}PORT: /m],
    [{ CHAT_DATABASE_URL: 'mysql://x' }, /^ {2}CHAT_DATABASE_URL: must be a postgres/m],
    [{ CHAT_DATABASE_URL: 'postgres://a/b' }, /^ {2}TRADING_DATABASE_URL: set both/m],
    [{ SUPABASE_URL: 'https://x.supabase.co' }, /^ {2}SUPABASE_ANON_KEY: required when SUPABASE_URL is set/m],
    [{ SUPABASE_JWT_SECRET: 'short' }, /^ {2}SUPABASE_JWT_SECRET: must be at least 32 characters$/m],
    [{ LOG_LEVEL: 'loud' }, /^ {2}LOG_LEVEL: /m],
    [{ TRUST_PROXY_HOPS: '-1' }, /^ {2}TRUST_PROXY_HOPS: .*\(got "-1"\)$/m],
    [{ AUTH_ACCOUNT_MAX_DELAY_SECONDS: '0' }, /^ {2}AUTH_ACCOUNT_MAX_DELAY_SECONDS: /m],
  ];
  for (const [vars, message] of bad) {
    it(`names the variable in one clear line: ${Object.keys(vars).join(', ')}`, () => {
      expect(() => parseEnv(vars)).toThrow(ConfigError);
      expect(() => parseEnv(vars)).toThrow(message);
    });
  }

  it('never echoes a secret value in the error', () => {
    try {
      parseEnv({ SUPABASE_JWT_SECRET: 'tiny-secret' });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('tiny-secret');
    }
  });
});
