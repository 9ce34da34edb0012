// Prints `N passed, N failed` from a jest JSON report. A suite that failed to load counts as
// a failure; a missing report, or setup steps that failed before jest ran, count too.
// Exit code: 0 only when nothing failed and something passed.
const fs = require('node:fs');

const [reportPath, setupFailedArg] = process.argv.slice(2);
const setupFailed = Number(setupFailedArg ?? 0);
let passed = 0;
let failed = setupFailed;
if (fs.existsSync(reportPath)) {
  const report = JSON.parse(fs.readFileSync(reportPath, 'utf8'));
  passed = report.numPassedTests;
  failed += report.numFailedTests + report.numRuntimeErrorTestSuites;
} else if (setupFailed === 0) {
  failed += 1;
  console.error(`no jest report at ${reportPath}: counting the run as failed`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
