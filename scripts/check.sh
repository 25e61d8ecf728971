#!/usr/bin/env bash
# Static checks (`npm run check`, and the first thing `npm test` does): Prettier, the type check
# and ESLint, fastest first, each timed. Stops at the first that fails, before any tool or Go build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
for check in format:check typecheck lint; do
  started=$(date +%s%N)
  npm run --silent "$check"
  echo "$check: ok in $((($(date +%s%N) - started) / 1000000)) ms"
done
