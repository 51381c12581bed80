import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // vite 8 resolves the @fedkd/* aliases from tsconfig.json and honours emitDecoratorMetadata,
  // so Nest dependency injection works in tests without an swc plugin.
  resolve: { tsconfigPaths: true },
  test: {
    include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'test/**/*.spec.ts'],
    // One PostgreSQL server for the run: repository tests run on it as well as on SQLite.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    pool: 'forks',
    // Two test files at a time even on 2 cores (vitest's default is cores - 1): most end-to-end
    // files wait on sockets and child processes, so the suite takes about 9 instead of 15 minutes.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
