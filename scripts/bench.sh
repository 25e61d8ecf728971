#!/usr/bin/env bash
# Benchmark (`npm run bench`, not part of the tests): the step's overhead around `buildx build`,
# a late daemon, fresh-pod rebuilds from the registry cache and large contexts, measured side by
# side in one run against the real daemon. Prints a markdown table on stdout (docs/benchmarks.md
# explains it); rounds are set by BENCH_* env vars (see scripts/bench.ts).
. "$(dirname "$0")/setup.sh"
exec node dist/scripts/bench.js
