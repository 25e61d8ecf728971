#!/usr/bin/env bash
# The fast inner loop (`npm run test:unit`): builds and runs the unit tests, which need Node and
# the npm packages only (no Go, no BuildKit tools, no cluster, no apt packages) and take seconds.
# Left out, and run by `npm test` (which runs every test once): test/e2e, test/bed, test/image
# and test/cluster, and every *.integration.test.ts, which needs a tool the project builds or
# installs (buildkitd, the Go-built manifest validator, busybox, dash) or takes minutes.
#
#   npm run test:unit                              # all unit tests
#   npm run test:unit -- --test-name-pattern=argv  # node --test options pass through
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
rm -rf dist
npm run --silent build
mapfile -t files < <(
  find dist/test -name '*.test.js' ! -name '*.integration.test.js' \
    ! -path 'dist/test/e2e/*' ! -path 'dist/test/bed/*' ! -path 'dist/test/image/*' ! -path 'dist/test/cluster/*' |
    sort
)
exec node --test --test-reporter=spec "$@" "${files[@]}"
