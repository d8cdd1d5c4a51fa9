// Ends the run with the plain line CI reads: "vitest: N passed, N failed".
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    let passed = 0;
    let failed = 0;
    for (const testModule of testModules) {
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        passed += state === 'passed' ? 1 : 0;
        failed += state === 'failed' ? 1 : 0;
      }
      failed += testModule.ok() ? 0 : testModule.children.size === 0 ? 1 : 0;
    }
    console.log(`vitest: ${passed} passed, ${failed} failed`);
  }
}
