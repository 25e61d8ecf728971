# Sourced by the entry scripts: installs npm packages and the pinned tools when missing, puts the
# tools on PATH (BUILDKIT_STEP_TOOLS_BIN for the test bed) and builds (`npm run build`: type-checks and
# compiles the TypeScript, and bundles the CLI into dist/buildkit-step.mjs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Installs when node_modules is missing or older than the lockfile (a pull that added a package).
[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
BUILDKIT_STEP_TOOLS_BIN="$(bash scripts/install-tools.sh | tail -n 1)"
export BUILDKIT_STEP_TOOLS_BIN
export PATH="$BUILDKIT_STEP_TOOLS_BIN:$PATH"
rm -rf dist
npm run --silent build
