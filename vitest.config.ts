import { defineConfig } from 'vitest/config';

/**
 * The suite in four tiers (README, Tests), chosen by path so no test file has to move. `integration`
 * is every test file the other tiers do not name, so a new file runs against the full stack unless a
 * glob here says otherwise.
 */

/** No Postgres, no Temporal: pure logic, parsers, providers against local HTTP stand-ins. */
const fast = [
  'test/domain/**/*.test.ts',
  'test/unit/**/*.test.ts',
  'test/emulators/**/*.test.ts',
  'test/providers/declarative-*.test.ts',
  'test/providers/egress-guard.test.ts',
  'test/providers/stripe-adapter.test.ts',
  'test/providers/url-policy.test.ts',
  'test/erp/csv-resume.test.ts',
  'test/erp/mapping.test.ts',
  'test/erp/rest-paginators.test.ts',
  'test/erp/rest-xml.test.ts',
  'test/erp/csv-gzip.test.ts',
  'test/ops/compose.test.ts',
  'test/tenancy/encrypted-columns.test.ts',
];

/** Workflow logic against the Temporal server with activities mocked: timers, windows, continue-as-new. */
const workflows = ['test/workflows/**/*.test.ts'];

/** Killed workers, spawned entry points and fuzzing: minutes each, run on their own. */
const slow = [
  'test/**/*crash*.test.ts',
  'test/api/schemathesis.test.ts',
  'test/ops/build.test.ts',
  'test/dev/**/*.test.ts',
];

const stackSetup = ['test/support/global-setup.ts'];

export default defineConfig({
  test: {
    // Suites share one Temporal server and one database; on 2 cores, files in sequence are as fast
    // and keep the timing-sensitive tests (circuit breaker, callbacks) honest.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // No retries: a test that needs one to pass is a bug to fix (the summary reporter would list it
    // as FLAKY if a retry were ever turned on for a local investigation).
    retry: 0,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      // Only the tiers that need the stack name the global setup, so `fast` starts no server.
      // One process for the whole tier: a fork per file costs more than most of these files take.
      { extends: true, test: { name: 'fast', include: fast, poolOptions: { forks: { singleFork: true } } } },
      { extends: true, test: { name: 'workflows', include: workflows, globalSetup: stackSetup } },
      {
        extends: true,
        test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: [...fast, ...workflows, ...slow], globalSetup: stackSetup },
      },
      { extends: true, test: { name: 'slow', include: slow, globalSetup: stackSetup } },
    ],
  },
});
