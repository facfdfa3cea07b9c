import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Suites share one Temporal server and one database; on 2 cores, files in sequence are as fast
    // and keep the timing-sensitive tests (circuit breaker, callbacks) honest.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // On CI a failed test runs once more: the suites drive a real Temporal server and Postgres on a
    // shared 2-core machine, where a scheduling stall can miss a deadline. A test that fails twice
    // fails the run, and one that passes on retry is listed as FLAKY by the summary reporter.
    retry: process.env.CI ? 1 : 0,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
