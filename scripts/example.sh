#!/usr/bin/env bash
# The main job (`npm run example`): installs what it needs, starts a local buildkitd and
# registry, builds examples/hello with the step, prints the results, stops everything.
. "$(dirname "$0")/setup.sh"
exec node dist/scripts/example.js
