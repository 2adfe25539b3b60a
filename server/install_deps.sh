#!/usr/bin/env bash
# Installs, from Debian's packages, what building Switchboard needs; with --test, also what its
# tests need. Installs only what is missing, so it is quick to run again.
set -euo pipefail

# libjwt-dev and libssl-dev: connection tokens (server/token_verifier.h) and TLS.
packages=(g++ cmake make pkg-config libwebsockets-dev libuv1-dev libjsoncpp-dev libhiredis-dev libsimdjson-dev
  libjwt-dev libssl-dev)
if [[ "${1:-}" == "--test" ]]; then
  # chromium: the browser tests (tests/browser/) drive Debian's Chromium through playwright-core.
  # gnuplot-nox: the chart of bench/compare.mjs, which the test command runs briefly.
  # iptables: the fault suite cuts a pod's link to a Redis Cluster (tests/fault/fault_lib.mjs).
  # clang and libclang-rt-14-dev: the libFuzzer targets (tests/fuzz/) need clang and its runtime.
  packages+=(libgtest-dev redis-server nodejs npm curl chromium gnuplot-nox iptables clang
    libclang-rt-14-dev)
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
# A machine may have node and npm from elsewhere than Debian; they will do.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}")
  missing=("${missing[@]/npm/}")
fi
read -r -a missing <<<"${missing[*]}"
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
