#!/usr/bin/env bash
# Installs what is missing, builds, and runs the server on its embedded (single-pod) backend.
# Arguments are passed to the server: bash server/run.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."

bash server/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build build --target switchboard -j"$(nproc)"
exec ./build/switchboard "$@"
