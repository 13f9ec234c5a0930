import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/env';
import { parseServerConfig } from './config';

describe('server configuration', () => {
  it('requires WEBHOOK_SECRET when the watchers-upsert function is deployed elsewhere', () => {
    const edge = 'https://abc.supabase.co/functions/v1/watchers-upsert';
    expect(() => parseServerConfig({ WATCHERS_WEBHOOK_URL: edge })).toThrow(ConfigError);
    expect(() => parseServerConfig({ WATCHERS_WEBHOOK_URL: edge })).toThrow(/WEBHOOK_SECRET: required when WATCHERS_WEBHOOK_URL is set/);
    const secret = 's'.repeat(40);
    expect(parseServerConfig({ WATCHERS_WEBHOOK_URL: edge, WEBHOOK_SECRET: secret }).webhook).toMatchObject({ url: edge, secret });
    // Our own endpoint (the default) shares the secret generated under DATA_DIR.
    expect(parseServerConfig({}).webhook).toMatchObject({ url: undefined, secret: undefined });
  });

  it('sends the provider request early unless CHAT_EARLY_PROVIDER_START is false, and says which variable is wrong', () => {
    expect(parseServerConfig({}).chat.earlyProviderStart).toBe(true);
    expect(parseServerConfig({ CHAT_EARLY_PROVIDER_START: 'false' }).chat.earlyProviderStart).toBe(false);
    expect(parseServerConfig({ CHAT_EARLY_PROVIDER_START: '0' }).chat.earlyProviderStart).toBe(false);
    expect(() => parseServerConfig({ CHAT_EARLY_PROVIDER_START: 'maybe' })).toThrow(/CHAT_EARLY_PROVIDER_START/);
  });
});
