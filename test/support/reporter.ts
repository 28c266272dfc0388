// mocha's spec reporter, plus a machine-readable summary: the counts are written to
// $ECDOCK_TEST_SUMMARY (default .test-results.json) and printed as `N passed, N failed`.
import * as fs from 'node:fs';
import Mocha from 'mocha';

const { EVENT_RUN_END, EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING } = Mocha.Runner.constants;

class EcdockReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    let passed = 0;
    let failed = 0;
    let pending = 0;
    const failures: string[] = [];
    runner.on(EVENT_TEST_PASS, () => passed++);
    runner.on(EVENT_TEST_PENDING, () => pending++);
    runner.on(EVENT_TEST_FAIL, (t) => {
      failed++;
      failures.push(t.fullTitle());
    });
    runner.once(EVENT_RUN_END, () => {
      const file = process.env.ECDOCK_TEST_SUMMARY ?? '.test-results.json';
      fs.writeFileSync(file, JSON.stringify({ passed, failed, pending, failures }, null, 2) + '\n');
      process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
    });
  }
}

export = EcdockReporter;
