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
dir="$cache/cred-helpers-ecr-$ECR_LOGIN_VERSION-gcr-$GCR_VERSION-acr-$ACR_ENV_VERSION"
mkdir -p "$dir"

# Module path of each helper's main package, and the binary it makes.
helpers=(
  "docker-credential-ecr-login github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login@$ECR_LOGIN_VERSION"
  "docker-credential-gcr github.com/GoogleCloudPlatform/docker-credential-gcr/v2@$GCR_VERSION"
  "docker-credential-acr-env github.com/chrismellard/docker-credential-acr-env@$ACR_ENV_VERSION"
)
for entry in "${helpers[@]}"; do
  name="${entry%% *}" module="${entry#* }"
  [ -x "$dir/$name" ] && continue
  echo "install-cred-helpers: building $name from $module" >&2
  started=$(date +%s)
  GOBIN="$dir/.gobin" CGO_ENABLED=0 GOTOOLCHAIN=auto go install -trimpath -ldflags "-s -w" "$module" >&2
  mv "$dir/.gobin/$name" "$dir/$name"
  echo "install-cred-helpers: $name took $(( $(date +%s) - started )) s" >&2
done
rmdir "$dir/.gobin" 2>/dev/null || true
echo "$dir"
