import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints the plain closing line CI reads: "N passed, N failed, N skipped", and names every test
 * that passed only on a retry, so a flaky test stays visible instead of silently absorbed.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const flaky: string[] = [];
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
        if (t.diagnostic()?.flaky) {
          // The failed attempt's error, so a flake in CI can be diagnosed from its log alone.
          const first = t.result().errors?.[0];
          const why = first ? `\n    first attempt: ${(first.message ?? String(first)).split('\n').slice(0, 6).join('\n    ')}` : '';
          flaky.push(`${m.moduleId.replace(process.cwd() + '/', '')} > ${t.fullName}${why}`);
        }
      }
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) failed++;
    }
    for (const name of flaky) process.stdout.write(`\nFLAKY (passed on retry): ${name}`);
    const retried = flaky.length > 0 ? ` (${flaky.length} passed on retry)` : '';
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped${retried}\n`);
  }
}
