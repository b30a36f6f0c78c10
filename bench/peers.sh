# bench/peers.sh: sourced (not run) by the scripts that measure allocators side by side
# (scripts/main.sh, bench/workloads/run.sh, bench/small_rss.sh,
# bench/workloads/trace_overhead.sh, tests/malloc/throughput.sh).
# PEER_LIB: each peer malloc's library to LD_PRELOAD, as the Debian packages install
# them (scripts/deps.sh bench); glibc is the empty string (no preload).
# shellcheck shell=bash
peer_libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
declare -A PEER_LIB=(
  [glibc]=""
  [jemalloc]=$peer_libdir/libjemalloc.so.2
  [tcmalloc]=$peer_libdir/libtcmalloc_minimal.so.4
  [mimalloc]=$peer_libdir/libmimalloc.so.2
)

# median: the median of the numbers on stdin (separated by blanks or newlines); the
# mean of the two middle ones when their count is even.
median() {
  tr -s ' \t' '\n\n' | grep -v '^$' | sort -g |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
