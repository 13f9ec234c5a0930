import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/env';
import { createModelRouter } from './router';
import { routerOptionsFromEnv } from './router.config';

describe('routerOptionsFromEnv', () => {
  it('configures only providers with a key, with default URLs and models', () => {
    const options = routerOptionsFromEnv({ XAI_API_KEY: 'x', OPENAI_API_KEY: '', ANTHROPIC_API_KEY: 'a', ANTHROPIC_MODEL: 'claude-haiku-4-5', FIRST_TOKEN_TIMEOUT_MS: '4000' });
    expect(options.firstTokenTimeoutMs).toBe(4000);
    expect(options.localAsLastResort).toBe(false);
    expect(createModelRouter(options).configured()).toEqual([
      { provider: 'xai', model: 'grok-4-fast-non-reasoning' },
      { provider: 'anthropic', model: 'claude-haiku-4-5' },
    ]);
  });

  it('falls back to the local analyst with no key at all', () => {
    expect(createModelRouter(routerOptionsFromEnv({})).configured()).toEqual([{ provider: 'local', model: 'zmarty-local-analyst' }]);
  });

  it.each([
    [{ XAI_BASE_URL: 'ftp://x' }, 'XAI_BASE_URL'],
    [{ FIRST_TOKEN_TIMEOUT_MS: '-5' }, 'FIRST_TOKEN_TIMEOUT_MS'],
    [{ LLM_LOCAL_FALLBACK: 'maybe' }, 'LLM_LOCAL_FALLBACK'],
  ])('rejects %j naming the variable', (env, name) => {
    expect(() => routerOptionsFromEnv(env)).toThrow(ConfigError);
    expect(() => routerOptionsFromEnv(env)).toThrow(name);
  });
});
