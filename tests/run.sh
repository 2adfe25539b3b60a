#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. unit tests (GoogleTest, through ctest) on the release build;
#   2. integration tests (node's test runner, real WebSocket clients) against the release binary,
#      browser tests, and the checks of k8s/ and the Dockerfile (tests/k8s: needs kubectl);
#   3. both again on an AddressSanitizer + UndefinedBehaviorSanitizer build;
#   4. 20 seconds of each libFuzzer target (tests/fuzz/run.sh, a clang build in build-fuzz);
#   5. a few seconds of bench/compare.mjs --quick on the release build, to prove the comparison
#      script runs end to end (it measures nothing worth keeping at that size).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash server/install_deps.sh --test
(cd tests && npm ci --no-audit --no-fund --loglevel=error)
(cd bench && npm ci --no-audit --no-fund --loglevel=error)

build_and_test() {
  local dir=$1
  shift
  echo "=== $dir: build" >&2
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  echo "=== $dir: unit tests" >&2
  ctest --test-dir "$dir" --output-on-failure -j"$jobs"
  echo "=== $dir: integration tests" >&2
  (cd tests && SWITCHBOARD_BIN="$PWD/../$dir/switchboard" npm test)
}

build_and_test build-asan -DCMAKE_BUILD_TYPE=Debug -DSWITCHBOARD_SANITIZE=ON
build_and_test build -DCMAKE_BUILD_TYPE=RelWithDebInfo

echo "=== fuzz targets" >&2
bash tests/fuzz/run.sh 20

echo "=== bench/compare.mjs --quick" >&2
compare_out=$(mktemp -d)
trap 'rm -rf "$compare_out"' EXIT
node bench/compare.mjs --quick --build build --out "$compare_out"
test -s "$compare_out/benchmarks.md" && test -s "$compare_out/benchmarks-latency.png"
