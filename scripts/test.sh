#!/usr/bin/env bash
# The test command (`npm test`): installs what the tests need, builds, and runs every test
# against the real pinned buildkitd, buildx and registry. Nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
tools="$(bash scripts/install-tools.sh | tail -n 1)"
export BUILDKIT_STEP_TOOLS_BIN="$tools"
export PATH="$tools:$PATH"

echo "buildkitd: $("$tools/buildkitd" --version)"
echo "buildctl:  $("$tools/buildctl" --version)"
echo "buildx:    $("$tools/buildx" version)"
echo "runc:      $(runc --version | head -n 1)"
echo "registry:  $(docker-registry --version 2>/dev/null || dpkg-query -W docker-registry)"
echo "node:      $(node --version)"

rm -rf dist
npx tsc -p tsconfig.json
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
exec node --test --test-reporter=spec "$@" "${files[@]}"
