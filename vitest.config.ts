import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{server,pipeline,common,client,scripts,test}/**/*.test.{ts,tsx}'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: integration tests start real servers and databases.
    maxWorkers: 2,
  },
});
