#!/usr/bin/env bash
# `npm run bench -- <name> [--quick]`: builds the workspace (incremental tsc -b) and runs one
# benchmark from tools/bench. The last stdout line is the benchmark's JSON figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export NX_DAEMON=false NX_ISOLATE_PLUGINS=false NX_NO_CLOUD=true
npx nx run proto:generate --output-style=static >/dev/null
node tools/scripts/build-native.js >/dev/null
npx tsc -b tools/bench
exec node tools/bench/dist/main.js "$@"
