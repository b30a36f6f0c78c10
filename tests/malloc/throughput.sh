#!/usr/bin/env bash
# throughput.sh LIB [RUNS]: the quick throughput check of the drop-in malloc.
# Runs malloc_throughput (built next to LIB's tests) under glibc, LIB (poolkit) and,
# when installed, mimalloc, jemalloc and tcmalloc, interleaved RUNS times (default 5),
# for 1 thread, 2 threads and 2 threads freeing each other's blocks; prints the
# median seconds and the ratio to mimalloc. Not a test: speed is never asserted.
set -eu
LIB=$(realpath "$1")
RUNS=${2:-5}
BIN=$(dirname "$LIB")/../../tests/malloc/malloc_throughput
[ -x "$BIN" ] || { echo "build malloc_throughput first (target malloc_throughput)"; exit 2; }
source "$(dirname "$0")/../../bench/peers.sh"
declare -A PEERS=([poolkit]="$LIB")
for peer in "${!PEER_LIB[@]}"; do
  [ -z "${PEER_LIB[$peer]}" ] || [ -f "${PEER_LIB[$peer]}" ] && PEERS[$peer]=${PEER_LIB[$peer]}
done
for shape in "1" "2" "2 4000000 cross"; do
  declare -A times=()
  for ((r = 0; r < RUNS; r++)); do
    for name in "${!PEERS[@]}"; do
      t=$(env ${PEERS[$name]:+LD_PRELOAD=${PEERS[$name]}} "$BIN" $shape)
      times[$name]+="$t "
    done
  done
  ref=""
  [ -n "${PEERS[mimalloc]:-}" ] && ref=$(echo ${times[mimalloc]} | tr ' ' '\n' | median)
  printf "threads %-16s" "$shape"
  for name in glibc poolkit mimalloc jemalloc tcmalloc; do
    [ -n "${times[$name]:-}" ] || continue
    m=$(echo ${times[$name]} | tr ' ' '\n' | median)
    if [ -n "$ref" ]; then printf "  %s %.3fs (%.2fx)" "$name" "$m" "$(echo "$m / $ref" | bc -l)"
    else printf "  %s %.3fs" "$name" "$m"; fi
  done
  echo
  unset times
done
