import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Ink draws only the last frame when CI is set (is-in-ci); the monitor tests watch live
    // frames, so the test workers (and the binaries they spawn) run with CI=false.
    env: { CI: 'false' },
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
