#!/usr/bin/env bash
# The main job (`npm run example`): installs what it needs, starts a local buildkitd and
# registry, builds examples/hello with the step, prints the results, stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
tools="$(bash scripts/install-tools.sh | tail -n 1)"
export BUILDKIT_STEP_TOOLS_BIN="$tools"
export PATH="$tools:$PATH"
npx tsc -p tsconfig.json
exec node dist/scripts/example.js
