import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // The PostgreSQL restart test stops the machine's server: it runs alone, after the main
    // suite (.ci/run sets GITROAST_PG_RESTART_TEST=1 for it), never beside other files.
    exclude: ['**/node_modules/**', ...(process.env.GITROAST_PG_RESTART_TEST === '1' ? [] : ['test/daemon/pg-restart.test.ts'])],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Ink draws only the last frame when CI is set (is-in-ci); the monitor tests watch live
    // frames, so the test workers (and the binaries they spawn) run with CI=false.
    env: { CI: 'false' },
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
