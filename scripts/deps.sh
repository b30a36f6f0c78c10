#!/usr/bin/env bash
# scripts/deps.sh GROUP...: installs the Debian packages a group needs, only those
# missing. Groups: build, test, bench, programs, package, compare. Runs apt-get as root
# (or through sudo); a machine that already has everything never calls apt-get.
set -euo pipefail

declare -A GROUP=(
  [build]="g++ cmake make pkg-config binutils libunwind-dev liblz4-dev libgtest-dev libgmock-dev"
  [test]="clang libclang-rt-14-dev valgrind libc6-dbg gnuplot-nox"
  [bench]="libbenchmark-dev libboost-dev libfoonathan-memory-dev libjemalloc-dev libjemalloc2 libgoogle-perftools-dev libtcmalloc-minimal4 libmimalloc-dev libmimalloc2.0 gnuplot-nox heaptrack python3 time bc valgrind"
  # tests/heap_bugs/compare.sh: the tools poolkit's checked mode is compared with
  [compare]="valgrind electric-fence duma python3 time"
  [programs]="python3 sqlite3 git gzip coreutils redis-server redis-tools libpython3.11-testsuite g++ cmake make"
  [package]="debhelper dpkg-dev build-essential lintian groff-base man-db bash-completion"
)

missing=()
for group in "$@"; do
  [[ -v GROUP[$group] ]] || { echo "deps.sh: unknown group '$group' (build test bench programs package compare)" >&2; exit 2; }
  for pkg in ${GROUP[$group]}; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
