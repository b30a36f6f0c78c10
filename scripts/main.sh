#!/usr/bin/env bash
# scripts/main.sh: poolkit's main job on a fresh Debian 12 machine. Installs what
# is missing, builds in release mode and runs every example, each showing a pool at work.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build
cmake --preset release >/dev/null
cmake --build --preset release -j "${POOLKIT_JOBS:-$(nproc)}"
for example in build/release/examples/*; do
  [ -x "$example" ] && [ -f "$example" ] || continue
  echo "=== $(basename "$example")"
  "$example"
done
