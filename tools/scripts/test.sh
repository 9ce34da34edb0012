#!/usr/bin/env bash
# `npm test`: generate wire types, type-check everything (tsc -b), lint (module boundaries),
# then ONE jest run over every project with a JSON report. The last line is always
# `N passed, N failed` computed from that report (a setup step that fails counts as a failure).
set -uo pipefail
cd "$(dirname "$0")/../.."
export NX_DAEMON=false NX_ISOLATE_PLUGINS=false NX_NO_CLOUD=true
report=reports/jest.json
mkdir -p reports
rm -f "$report"
setup_failed=0
step() {
  echo "== $*"
  "$@" || { echo "step failed: $*" >&2; setup_failed=$((setup_failed + 1)); }
}
step node tools/scripts/require-tools.js
step node tools/scripts/build-native.js
step npx nx run proto:generate --output-style=static
step npx tsc -b
step npx eslint --max-warnings 0 .
if [ "$setup_failed" -eq 0 ]; then
  npx jest --ci --json --outputFile="$report" "$@"
fi
node tools/scripts/summary.js "$report" "$setup_failed" | tee reports/summary.txt
exit "${PIPESTATUS[0]}"
