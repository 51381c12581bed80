import { defineConfig } from 'vitest/config';

export default defineConfig({
  // vite 8 resolves the @fedkd/* aliases from tsconfig.json and honours emitDecoratorMetadata,
  // so Nest dependency injection works in tests without an swc plugin.
  resolve: { tsconfigPaths: true },
  test: {
    include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'test/**/*.spec.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
