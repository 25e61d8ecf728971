#!/usr/bin/env bash
# Benchmark (`npm run bench`): what the step costs on top of plain buildx, and how fast it sees a
# late daemon. Prints figures and ratios measured side by side in one run.
. "$(dirname "$0")/setup.sh"
exec node dist/scripts/bench.js
