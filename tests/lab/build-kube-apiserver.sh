#!/usr/bin/env bash
# Builds kube-apiserver v1.20 from Debian's `kubernetes` source package once and caches it
# outside the repository. Idempotent: exits at once when the cached binary exists.
# Why from source: the lab must run a real apiserver, and no registry this project may use ships
# a prebuilt one.
set -euo pipefail

cache="${GDOCTOR_LAB_CACHE:-$HOME/.cache/gdoctor-lab}"
binary="$cache/bin/kube-apiserver"
if [ -x "$binary" ]; then
  echo "kube-apiserver cached at $binary"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
sources=/etc/apt/sources.list.d/debian.sources
src_list=/etc/apt/sources.list.d/gdoctor-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && [ ! -f "$src_list" ]; then
  # The same Debian URIs as the binary entry, for source packages of bookworm main.
  uris=$(awk '/^URIs:/ && /debian\/?$/ {print $2; exit}' "$sources" 2>/dev/null || true)
  uris="${uris:-http://deb.debian.org/debian}"
  printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uris" > "$src_list"
fi
apt-get update -qq
apt-get install -y -qq golang-go etcd-server rsync golang-github-modern-go-reflect2-dev dpkg-dev >/dev/null

work="$cache/build"
rm -rf "$work"
mkdir -p "$work/src"
cd "$work/src"
apt-get source -qq kubernetes >/dev/null
tree=$(find "$work/src" -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
[ -n "$tree" ] || { echo "apt-get source kubernetes produced no tree" >&2; exit 1; }

# The vendored reflect2 1.0.1 makes the apiserver segfault under Go >= 1.18 on the first
# custom resource; Debian's 1.0.2 does not.
rm -rf "$tree/vendor/github.com/modern-go/reflect2"
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
rm -f "$tree/vendor/github.com/modern-go/reflect2/go.mod"

export GOPATH="$work/gopath"
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$tree" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"
# make (not go build) generates the OpenAPI code the apiserver needs; GOPATH mode is required.
GO111MODULE=off make WHAT=cmd/kube-apiserver
mkdir -p "$cache/bin"
cp "_output/bin/kube-apiserver" "$binary.tmp"
mv "$binary.tmp" "$binary"
rm -rf "$work"
echo "kube-apiserver built at $binary"
