#!/usr/bin/env bash
# The test command (`npm test`): installs what the tests need, builds, and runs every test
# against the real pinned buildkitd, buildx and registry. Nothing is skipped.
# Format, type and lint checks first: a violation fails in seconds, before any tool or Go build.
bash "$(dirname "$0")/check.sh" || exit
. "$(dirname "$0")/setup.sh"
tools="$BUILDKIT_STEP_TOOLS_BIN"
echo "buildkitd: $("$tools/buildkitd" --version)"
echo "buildctl:  $("$tools/buildctl" --version)"
echo "buildx:    $("$tools/buildx" version)"
echo "runc:      $(runc --version | head -n 1)"
echo "registry:  $(dpkg-query -W -f '${Package} ${Version}' docker-registry)"
echo "node:      $(node --version)"
# The cluster (scripts/install-cluster.sh: ~20 min of Go builds on a fresh machine, cached after)
# builds in the background at low priority while the other suites run; the cluster suite runs
# last and waits for it (the script holds a lock, a second call just waits and prints the dir).
mkdir -p "${XDG_CACHE_HOME:-$HOME/.cache}/buildkit-step"
cluster_log="${XDG_CACHE_HOME:-$HOME/.cache}/buildkit-step/install-cluster.log"
echo "cluster:   building or finding it in the background (log: $cluster_log)"
nice -n 10 bash scripts/install-cluster.sh >"$cluster_log" 2>&1 &
mapfile -t files < <(find dist/test -name '*.test.js' ! -path 'dist/test/cluster/*' | sort)
files+=(dist/test/cluster/cluster.test.js)
exec node --test --test-reporter=spec "$@" "${files[@]}"
