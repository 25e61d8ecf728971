#!/usr/bin/env bash
# Builds the cloud registry credential helpers that the step image ships (ECR, Google, Azure ACR)
# from their pinned Go modules, exactly as the Dockerfile's cred-helpers stage does, cached per
# version outside the repo. Only the image test needs them (it passes the dir to the image build
# as `--build-context cred-helpers-bin=<dir>`). Prints the directory on its last line.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

cache="${BUILDKIT_STEP_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/buildkit-step/tools}"
# The dir name carries the versions and the build recipe (r2: ECR with its version stamped).
dir="$cache/cred-helpers-ecr-$ECR_LOGIN_VERSION-gcr-$GCR_VERSION-acr-$ACR_ENV_VERSION-r2"
mkdir -p "$dir"

# build NAME MODULE@VERSION [-X ...]: one helper, as the Dockerfile builds it.
build() {
  local name="$1" module="$2" x="${3:-}"
  [ -x "$dir/$name" ] && return 0
  echo "install-cred-helpers: building $name from $module" >&2
  local started
  started=$(date +%s)
  GOBIN="$dir/.gobin" CGO_ENABLED=0 GOTOOLCHAIN=auto go install -trimpath -ldflags "-s -w $x" "$module" >&2
  mv "$dir/.gobin/$name" "$dir/$name"
  echo "install-cred-helpers: $name took $(( $(date +%s) - started )) s" >&2
}
build docker-credential-ecr-login "github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login@$ECR_LOGIN_VERSION" \
  "-X github.com/awslabs/amazon-ecr-credential-helper/ecr-login/version.Version=${ECR_LOGIN_VERSION#v}"
build docker-credential-gcr "github.com/GoogleCloudPlatform/docker-credential-gcr/v2@$GCR_VERSION"
build docker-credential-acr-env "github.com/chrismellard/docker-credential-acr-env@$ACR_ENV_VERSION"
rmdir "$dir/.gobin" 2>/dev/null || true
echo "$dir"
