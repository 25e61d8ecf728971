#!/usr/bin/env bash
# Installs the pinned BuildKit tools (buildkitd, buildctl, buildx) and the Debian
# packages the test bed needs. Binaries are cached per version outside the repo,
# so only the first run on a machine pays for the Go builds (~5 min on 2 cores).
#
# Prints the directory holding buildkitd, buildctl and buildx on its last line.
# A binary given by env (BUILDKITD_BIN, BUILDCTL_BIN, BUILDX_BIN) is used when its
# version matches the pin; otherwise the script says so and builds the pinned one.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

cache="${BUILDKIT_STEP_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/buildkit-step/tools}"
bin="$cache/bin-buildkit-$BUILDKIT_VERSION-buildx-$BUILDX_VERSION"
mkdir -p "$bin"

log() { echo "install-tools: $*" >&2; }

apt_missing=()
command -v runc >/dev/null 2>&1 || apt_missing+=(runc)
[ -x /usr/bin/docker-registry ] || apt_missing+=(docker-registry)
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || apt_missing+=(busybox-static)
command -v openssl >/dev/null 2>&1 || apt_missing+=(openssl)
command -v htpasswd >/dev/null 2>&1 || apt_missing+=(apache2-utils)
command -v ssh-add >/dev/null 2>&1 || apt_missing+=(openssh-client)
# `ip netns` for the registries suite's network namespace.
command -v ip >/dev/null 2>&1 || apt_missing+=(iproute2)
if [ "${#apt_missing[@]}" -gt 0 ]; then
  log "apt-get install ${apt_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >&2
fi

# use_given NAME ENVVAR PATTERN: link a caller-provided binary when its version matches.
use_given() {
  local name="$1" given="$2" want="$3"
  [ -n "$given" ] || return 1
  if "$given" --version 2>/dev/null | grep -qF -- "$want"; then
    ln -sf "$given" "$bin/$name"
    log "using $given ($want)"
    return 0
  fi
  log "ignoring $given: its version is not $want"
  return 1
}

if [ ! -x "$bin/buildkitd" ] || [ ! -x "$bin/buildctl" ]; then
  if ! { use_given buildkitd "${BUILDKITD_BIN:-}" "$BUILDKIT_VERSION" && use_given buildctl "${BUILDCTL_BIN:-}" "$BUILDKIT_VERSION"; }; then
    log "building buildkitd and buildctl $BUILDKIT_VERSION from Go modules"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    # BuildKit's go.mod has an exclude block, so `go install pkg@version` is refused:
    # build from a throw-away module that requires it instead.
    (
      cd "$work"
      go mod init buildkit-step-tools >/dev/null 2>&1
      go get "github.com/moby/buildkit/cmd/buildkitd@$BUILDKIT_VERSION" "github.com/moby/buildkit/cmd/buildctl@$BUILDKIT_VERSION" >&2
      ldflags="-s -w -X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION"
      CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -tags "osusergo netgo static_build seccomp" \
        -o "$bin/buildkitd.tmp" github.com/moby/buildkit/cmd/buildkitd >&2
      CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/buildctl.tmp" github.com/moby/buildkit/cmd/buildctl >&2
    )
    mv "$bin/buildkitd.tmp" "$bin/buildkitd"
    mv "$bin/buildctl.tmp" "$bin/buildctl"
  fi
fi

if [ ! -x "$bin/buildx" ]; then
  if ! use_given buildx "${BUILDX_BIN:-}" "$BUILDX_VERSION"; then
    log "building buildx $BUILDX_VERSION from Go modules"
    GOBIN="$bin/.gobin" CGO_ENABLED=0 go install -trimpath \
      -ldflags "-s -w -X github.com/docker/buildx/version.Version=$BUILDX_VERSION" \
      "github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION" >&2
    mv "$bin/.gobin/buildx" "$bin/buildx"
    rmdir "$bin/.gobin"
  fi
fi

echo "$bin"
