#!/usr/bin/env bash
# Builds the real single-node cluster the cluster suite (test/cluster) runs the shipped Task,
# StepAction and WorkflowTemplate in: Kubernetes, etcd, containerd, Tekton Pipelines (the pinned
# release plus the oldest one the Task's minVersion claims and the newest the Go module proxy
# serves), Argo Workflows, rootlesskit and the pause binary. Everything comes from the Go module
# proxy (pinned by the throw-away modules in tools/cluster/) and Debian apt; nothing from a
# container registry.
#
# Binaries are cached outside the repo under a hash of the versions, the modules, the build recipe
# revision and the Go version, so only the first run on a machine pays (~20 min of compile on 2 cores; the Go
# build cache, ~7 GB, lives in a temp dir that is removed afterwards).
#
# Prints the bin directory on its last line. Tekton binaries are in <bin>/tekton-<version>/.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
mods="$(cd "$here/../tools/cluster" && pwd)"
# shellcheck source=versions.env
. "$here/versions.env"

log() { echo "install-cluster: $*" >&2; }

install_apt() {
  apt_missing=()
  command -v iptables >/dev/null 2>&1 || apt_missing+=(iptables)
  command -v conntrack >/dev/null 2>&1 || apt_missing+=(conntrack)
  [ -x /usr/lib/cni/bridge ] || apt_missing+=(containernetworking-plugins)
  [ -x /usr/bin/newuidmap ] || apt_missing+=(uidmap)
  command -v gcc >/dev/null 2>&1 || apt_missing+=(gcc libc6-dev)
  command -v flock >/dev/null 2>&1 || apt_missing+=(util-linux)
  command -v setcap >/dev/null 2>&1 || apt_missing+=(libcap2-bin)
  [ -x /usr/bin/tini-static ] || apt_missing+=(tini)
  if [ "${#apt_missing[@]}" -gt 0 ]; then
    log "apt-get install ${apt_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >&2
  fi
}

# The modules must pin what versions.env says (one source of truth for the docs and the bed).
check_pin() {
  local dir="$1" module="$2" want="$3"
  if ! grep -qE "^require $module $want\$" "$mods/$dir/go.mod"; then
    log "tools/cluster/$dir/go.mod does not require $module $want (versions.env); update it and run go mod tidy there"
    exit 1
  fi
}
check_pin k8s k8s.io/kubernetes "$K8S_VERSION"
check_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
check_pin containerd github.com/containerd/containerd/v2 "$CONTAINERD_VERSION"
check_pin tekton github.com/tektoncd/pipeline "$TEKTON_VERSION"
check_pin tekton-min github.com/tektoncd/pipeline "$TEKTON_MIN_VERSION"
check_pin tekton-newest github.com/tektoncd/pipeline "$TEKTON_NEWEST_VERSION"
check_pin argo github.com/argoproj/argo-workflows/v3 "$ARGO_VERSION"
check_pin rootlesskit github.com/rootless-containers/rootlesskit/v3 "$ROOTLESSKIT_VERSION"

# Bump when the build steps below change in a way that changes the binaries.
build_rev=1
hash="$(
  {
    go version
    echo "build recipe $build_rev"
    # Only the cluster's own pins: a new pin for another tool must not rebuild the cluster.
    grep -E '^(K8S|ETCD|CONTAINERD|TEKTON|TEKTON_MIN|TEKTON_NEWEST|ARGO|ROOTLESSKIT)_VERSION=' "$here/versions.env"
    for f in "$mods"/*/go.mod "$mods"/*/go.sum "$mods"/*/tools.go; do
      printf '== %s\n' "${f#"$mods"/}"
      cat "$f"
    done
  } | sha256sum | cut -c1-16
)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/buildkit-step"
out="$cache/cluster-$hash"
bin="$out/bin"
mkdir -p "$bin"

if [ ! -f "$out/.complete" ]; then
  # One build at a time: a second caller waits for the first and then finds everything built.
  exec 9>"$cache/cluster.lock"
  flock 9
fi
install_apt
if [ -f "$out/.complete" ]; then
  echo "$bin"
  exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/buildkit-step-cluster-build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
export GOCACHE="$work/gocache" CGO_ENABLED=0 GOFLAGS=-mod=readonly
start=$SECONDS

# step NAME CMD...: runs a build step once; a finished step is marked so a rerun after a failure
# (or an interrupted build) skips it.
step() {
  local name="$1"
  shift
  [ -f "$out/.done-$name" ] && return 0
  local t=$SECONDS
  log "building $name..."
  "$@"
  touch "$out/.done-$name"
  log "built $name in $((SECONDS - t))s"
}

# module_src MODULE_DIR MODULE: the directory of a required module's source. `go list -m` prints an
# empty string (exit 0) for a module not yet in the module cache, as on a fresh machine, so it is
# downloaded first, and an empty answer is an error rather than a later `cp ''`.
module_src() {
  local dir
  (cd "$1" && go mod download "$2") >&2
  dir="$(cd "$1" && go list -m -f '{{.Dir}}' "$2")"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    echo "install-cluster: no source directory for $2 in $1 after go mod download" >&2
    return 1
  fi
  echo "$dir"
}

# gobuild MODULE_DIR LDFLAGS OUT PKG...: builds in a pinned module; OUT is a file for one package
# or a directory (ending in /) for several.
gobuild() {
  local dir="$1" ldflags="$2" dest="$3"
  shift 3
  (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$dest" "$@") >&2
}

k8s_ldflags=""
k8s_minor="${K8S_VERSION#v1.}"
k8s_minor="${k8s_minor%%.*}"
# Without these the apiserver reports v0.0.0-master+$Format:%H$ and Tekton's controller refuses
# it ("Invalid character(s) found in build meta data").
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags="$k8s_ldflags -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor"
  k8s_ldflags="$k8s_ldflags -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

build_k8s() {
  gobuild "$mods/k8s" "$k8s_ldflags" "$bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  gobuild "$mods/etcd" "" "$bin/etcd" go.etcd.io/etcd/server/v3
}

build_containerd() {
  (cd "$mods/containerd" && go build -trimpath -tags "no_btrfs no_devmapper no_zfs" \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    -o "$bin/" github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr) >&2
}

# build_tekton MODULE_DIR VERSION: the release's binaries, the images are made from them later.
build_tekton() {
  local dir="$1" version="$2" dest="$bin/tekton-$2"
  mkdir -p "$dest"
  local pkgs=()
  for c in controller webhook resolvers entrypoint nop workingdirinit sidecarlogresults; do
    pkgs+=("github.com/tektoncd/pipeline/cmd/$c")
  done
  gobuild "$mods/$dir" "-X github.com/tektoncd/pipeline/pkg/version.PipelineVersion=$version" "$dest/" "${pkgs[@]}"
  # The release manifests (config/) are read by the test bed from here.
  local src
  src="$(module_src "$mods/$dir" github.com/tektoncd/pipeline)"
  rm -rf "$dest/config"
  cp -r "$src/config" "$dest/config"
  chmod -R u+w "$dest/config"
}

# argoexec does not compile from the module zip: upstream signal_linux.go is a symlink to
# signal_darwin.go and module zips drop symlinks (`undefined: Setpgid`), and -overlay refuses files
# in GOMODCACHE. So build from a copy of the module with that file restored, via a local replace.
build_argo() {
  local src
  src="$(module_src "$mods/argo" github.com/argoproj/argo-workflows/v3)"
  cp -r "$src" "$work/argo-src"
  chmod -R u+w "$work/argo-src"
  cp "$work/argo-src/workflow/executor/osspecific/signal_darwin.go" \
    "$work/argo-src/workflow/executor/osspecific/signal_linux.go"
  mkdir -p "$work/argo-mod"
  cp "$mods/argo/go.mod" "$mods/argo/go.sum" "$mods/argo/tools.go" "$work/argo-mod/"
  (cd "$work/argo-mod" && go mod edit -replace "github.com/argoproj/argo-workflows/v3=$work/argo-src") >&2
  (cd "$work/argo-mod" && GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X github.com/argoproj/argo-workflows/v3.version=$ARGO_VERSION" \
    -o "$bin/" github.com/argoproj/argo-workflows/v3/cmd/workflow-controller \
    github.com/argoproj/argo-workflows/v3/cmd/argoexec) >&2
  rm -rf "$bin/argo-manifests"
  cp -r "$src/manifests" "$bin/argo-manifests"
  chmod -R u+w "$bin/argo-manifests"
}

build_rootlesskit() {
  gobuild "$mods/rootlesskit" "" "$bin/rootlesskit" github.com/rootless-containers/rootlesskit/v3/cmd/rootlesskit
}

# The sandbox ("pause") image's binary: Kubernetes' own pause.c from the module zip.
build_pause() {
  local src
  src="$(module_src "$mods/k8s" k8s.io/kubernetes)"
  gcc -Os -static -DVERSION=v3.10.1 -o "$bin/pause" "$src/build/pause/linux/pause.c" >&2
  strip "$bin/pause"
}

step k8s build_k8s
step etcd build_etcd
step containerd build_containerd
step "tekton-$TEKTON_VERSION" build_tekton tekton "$TEKTON_VERSION"
step argo build_argo
step pause build_pause
step rootlesskit build_rootlesskit
step "tekton-$TEKTON_MIN_VERSION" build_tekton tekton-min "$TEKTON_MIN_VERSION"
step "tekton-$TEKTON_NEWEST_VERSION" build_tekton tekton-newest "$TEKTON_NEWEST_VERSION"

touch "$out/.complete"
log "done in $((SECONDS - start))s: $bin"
# Drop builds of older versions.
find "$cache" -maxdepth 1 -type d -name 'cluster-*' ! -name "cluster-$hash" -exec rm -rf {} + 2>/dev/null || true
echo "$bin"
