import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{engine,rules,collectors,alerts,config,cli,bench,test-support}/**/*.test.ts'],
    exclude: ['dist/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
