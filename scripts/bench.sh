#!/usr/bin/env bash
# Benchmark (`npm run bench`): what the step costs on top of plain buildx, and how fast it sees a
# late daemon. Prints figures and ratios measured side by side in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
tools="$(bash scripts/install-tools.sh | tail -n 1)"
export BUILDKIT_STEP_TOOLS_BIN="$tools"
export PATH="$tools:$PATH"
npx tsc -p tsconfig.json
exec node dist/scripts/bench.js
