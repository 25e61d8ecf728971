#!/usr/bin/env bash
# Validate Tekton / Argo Workflows manifests with the engines' own rules.
#
#   bash tools/validate-manifests/run.sh FILE.yaml [FILE.yaml ...]
#
# Builds the Go tool beside this script once and keeps the binary under
# ${XDG_CACHE_HOME:-$HOME/.cache}/buildkit-step/, named by a hash of its
# sources (this script, go.mod, go.sum, *.go) and the Go version, so later calls start at
# once. File arguments are taken relative to the caller's directory. Build
# messages go to stderr; stdout carries only the tool's OK/FAIL lines.
# Exit status: the tool's (0 all OK, 1 some FAIL, 2 usage error), or 2 when
# the tool cannot be built.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v go >/dev/null 2>&1; then
  echo "validate-manifests: the go command is needed (Go >= 1.26.4)" >&2
  exit 2
fi

hash="$(
  cd "$here"
  {
    go version
    for f in run.sh go.mod go.sum $(ls -- *.go | grep -v '_test\.go$' | LC_ALL=C sort); do
      printf '%s\n' "== $f"
      cat -- "$f"
    done
  } | sha256sum | cut -c1-16
)"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/buildkit-step"
bin="$cache_dir/validate-manifests-$hash"

if [[ ! -x "$bin" ]]; then
  mkdir -p "$cache_dir"
  # One build at a time: parallel test workers wait for the first one.
  exec 9>"$cache_dir/validate-manifests.lock"
  if command -v flock >/dev/null 2>&1; then
    flock 9
  fi
  if [[ ! -x "$bin" ]]; then
    echo "validate-manifests: building (first run; a cold build takes minutes)..." >&2
    tmp="$(mktemp "$cache_dir/.validate-manifests-build.XXXXXX")"
    start=$SECONDS
    if ! (cd "$here" && go build -o "$tmp" .) >&2; then
      rm -f -- "$tmp"
      echo "validate-manifests: build failed" >&2
      exit 2
    fi
    mv -f -- "$tmp" "$bin"
    echo "validate-manifests: built $bin in $((SECONDS - start))s" >&2
    # Drop binaries of older source versions.
    find "$cache_dir" -maxdepth 1 -type f -name 'validate-manifests-*' ! -name "validate-manifests-$hash" \
      ! -name '*.lock' -delete 2>/dev/null || true
  fi
  exec 9>&-
fi

exec "$bin" "$@"
