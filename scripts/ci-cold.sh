#!/usr/bin/env bash
# Runs .ci/run as a fresh machine would: a clean clone of HEAD, with the Go module and build caches,
# the npm cache and the project's tool, image and cluster caches (XDG_CACHE_HOME) all pointed at
# new empty temp dirs, removed afterwards. Prints the wall time. Usage: bash scripts/ci-cold.sh
# (KEEP=1 keeps the temp dirs for a look).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
root="$(mktemp -d "${TMPDIR:-/tmp}/buildkit-step-cold.XXXXXX")"
cleanup() {
  [ -n "${KEEP:-}" ] && { echo "ci-cold: kept $root" >&2; return; }
  chmod -R u+w "$root" 2>/dev/null || true
  rm -rf "$root"
}
trap cleanup EXIT
git clone --quiet --no-local "$repo" "$root/clone"
mkdir -p "$root/gomod" "$root/gocache" "$root/npm" "$root/xdg"
start=$SECONDS
status=0
(
  cd "$root/clone"
  export GOMODCACHE="$root/gomod" GOCACHE="$root/gocache" npm_config_cache="$root/npm"
  export XDG_CACHE_HOME="$root/xdg" CI=true
  bash .ci/run </dev/null
) || status=$?
echo "ci-cold: .ci/run exited $status after $((SECONDS - start)) s with every cache empty"
exit "$status"
