import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedDatabases } from '../test/databases';
import { TEST_JWT_SECRET } from '../test/test-server';
import { startWebProcess, type WebProcess } from '../test/web-process';

/** The web process reads every setting — the server's own included — from the environment over `.env`. */
describe('web process configuration', () => {
  let databases: Awaited<ReturnType<typeof createMigratedDatabases>>;
  let web: WebProcess | undefined;
  const shared = () => ({ CHAT_DATABASE_URL: databases.chatUrl, TRADING_DATABASE_URL: databases.tradingUrl, SUPABASE_JWT_SECRET: TEST_JWT_SECRET, PUBLIC_URL: 'http://localhost:8080' });
  beforeAll(async () => {
    databases = await createMigratedDatabases();
  });
  afterAll(async () => {
    web?.child.kill('SIGKILL');
    await web?.exited;
    await databases.drop();
  });

  it('takes server settings from .env (XAI_API_KEY there makes Grok the provider), the environment winning', { timeout: 240_000 }, async () => {
    web = await startWebProcess(
      { ...shared(), XAI_MODEL: 'grok-4-fast-non-reasoning' },
      { dotenv: 'XAI_API_KEY=xai-key-from-dotenv\nXAI_MODEL=grok-3-mini\n' },
    );
    const providers = JSON.stringify(await (await fetch(`${web.url}/healthz`)).json());
    expect(providers).toContain('"provider":"xai"');
    expect(providers).toContain('grok-4-fast-non-reasoning');
    expect(providers).not.toContain('grok-3-mini');
    expect(providers).not.toContain('"provider":"local"');
  });

  it('does not start on a shared database without the auth secret and issuer every instance must agree on, naming both', { timeout: 240_000 }, async () => {
    const started = startWebProcess({ CHAT_DATABASE_URL: databases.chatUrl, TRADING_DATABASE_URL: databases.tradingUrl });
    const failure = await started.then(
      () => '',
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/exited before listening/);
    expect(failure).toMatch(/SUPABASE_JWT_SECRET: required with CHAT_DATABASE_URL/);
    expect(failure).toMatch(/PUBLIC_URL: required with CHAT_DATABASE_URL/);
  });
});
