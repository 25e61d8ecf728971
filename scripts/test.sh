#!/usr/bin/env bash
# The test command (`npm test`): installs what the tests need, builds, and runs every test
# against the real pinned buildkitd, buildx and registry. Nothing is skipped.
. "$(dirname "$0")/setup.sh"
tools="$BUILDKIT_STEP_TOOLS_BIN"
echo "buildkitd: $("$tools/buildkitd" --version)"
echo "buildctl:  $("$tools/buildctl" --version)"
echo "buildx:    $("$tools/buildx" version)"
echo "runc:      $(runc --version | head -n 1)"
echo "registry:  $(dpkg-query -W -f '${Package} ${Version}' docker-registry)"
echo "node:      $(node --version)"
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
exec node --test --test-reporter=spec "$@" "${files[@]}"
