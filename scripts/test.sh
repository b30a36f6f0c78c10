#!/usr/bin/env bash
# scripts/test.sh: every test poolkit has, lane by lane, on a fresh Debian 12 machine.
# Installs what is missing, then builds and runs:
#   debug     all unit tests, warnings as errors
#   asan      all unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan      the threaded tests (ctest -R threads) under ThreadSanitizer
#   valgrind  every unit test binary under valgrind memcheck, zero errors (scaled down)
#   fuzz      a 20 s smoke run of each libFuzzer harness (clang)
#   programs  real programs (python3, sqlite3, sort, gzip, git, g++, cmake, redis)
#             with and without libpoolkit-malloc.so preloaded, outputs compared
#   packages  the Debian packages (scripts/package.sh, lintian), unpacked into a
#             scratch root; the C and C++ consumers built and run against it
# Each lane builds in build/<lane>. Exits non-zero if any lane fails.
# PKTEST_LANES="debug asan programs" picks lanes; PKTEST_JOBS sets build parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/harness_env.sh
source scripts/lanes.sh

scripts/deps.sh build test

LANES=${PKTEST_LANES:-"debug asan tsan valgrind fuzz programs packages"}
for lane in $LANES; do
  run_lane "$lane"
done
summarize_lanes
