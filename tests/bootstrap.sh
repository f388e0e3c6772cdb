#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine (run as root): Debian
# packages, the cached kube-apiserver build, and the project's virtualenv in .venv.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in etcd-server socat dnsmasq-base iproute2 openssl procps; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

bash tests/lab/build-kube-apiserver.sh

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
