#!/usr/bin/env bash
# bench/workloads/run.sh [--quick] [--reps N] [--only "w1 w2"] [--allocators "a b"] [--poolkit PATH] [--out FILE]
# Runs every workload under glibc (no preload), jemalloc, tcmalloc, mimalloc and
# poolkit (each through LD_PRELOAD), interleaved: each repetition runs every
# workload once under every allocator, the allocator order rotating from one
# repetition to the next. Measures wall time and peak RSS with /usr/bin/time,
# checks that every allocator printed the same checksum, and writes the medians
# and their ratios to mimalloc to report/workloads.md (see docs/workloads.md).
#   --quick        smaller sizes and 3 repetitions (a few minutes); default 5 repetitions
#   --poolkit PATH libpoolkit-malloc.so to use (default: $PKTEST_MALLOC, else built
#                  from this tree with the release preset when src/malloc exists)
#   --allocators L which to run (default: glibc jemalloc tcmalloc mimalloc poolkit);
#                  poolkit-checked is poolkit with POOLKIT_CHECK=1 (checked mode),
#                  poolkit-checked-nostack the same with POOLKIT_STACK_DEPTH=0
#   --base NAME    the allocator the ratios are to (default mimalloc)
# Exits non-zero if a workload failed or printed a different checksum.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=0 reps="" only="" poolkit_lib=${PKTEST_MALLOC:-} out=report/workloads.md
wanted="glibc jemalloc tcmalloc mimalloc poolkit" base=mimalloc
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --reps) reps=$2; shift ;;
    --only) only=$2; shift ;;
    --poolkit) poolkit_lib=$2; shift ;;
    --out) out=$2; shift ;;
    --allocators) wanted=$2; shift ;;
    --base) base=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$reps" ] || reps=$([ $quick = 1 ] && echo 3 || echo 5)
[ -x /usr/bin/time ] || { echo "run.sh: needs /usr/bin/time (Debian package 'time')" >&2; exit 2; }

# name | full arguments | quick arguments (size, threads); sized for ~1 s and
# ~0.25 s under glibc on a 2-core machine. name:label runs program `name` again
# under another row name (the oversubscribed runs: 8 and 16 threads on 2 cores).
WORKLOADS="
larson         1000000 4 | 250000 4
xmalloc_test   3000000 4 | 750000 4
cache_scratch  40000 4   | 10000 4
mstress        400000 4  | 100000 4
rptest         4000 4    | 1000 4
alloc_test     4000000 2 | 1000000 2
glibc_simple   60000     | 20000
glibc_thread   3000000 4 | 750000 4
sh6bench       5000000 4 | 1250000 4
mleak          200 4     | 50 4
malloc_large   500       | 125
binary_trees   18 2      | 16 2
realloc_growth 2000000   | 500000
large_mixed    300       | 75
aligned_alloc  400000 2  | 100000 2
random_cross   1000000 4 | 250000 4
random_cross:8t  500000 8  | 125000 8
random_cross:16t 250000 16 | 62500 16
glibc_thread:16t 200000 16 | 50000 16
server_sized   400000 2  | 100000 2
"

# --- build the workloads (and poolkit's malloc when no library was named) -------
cmake -S bench/workloads -B build/workloads -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/workloads -j "${PKTEST_JOBS:-2}" >/dev/null
if [ -z "$poolkit_lib" ] && [ -f src/malloc/CMakeLists.txt ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target poolkit-malloc -j "${PKTEST_JOBS:-2}" >/dev/null
  poolkit_lib=$PWD/build/release/src/malloc/libpoolkit-malloc.so
fi

# --- the allocators: name=library ('' is glibc's own malloc) ---------------------
source bench/peers.sh
declare -A LIB=([poolkit]=$poolkit_lib [poolkit-checked]=$poolkit_lib [poolkit-checked-nostack]=$poolkit_lib)
for peer in "${!PEER_LIB[@]}"; do LIB[$peer]=${PEER_LIB[$peer]}; done
declare -A ENVS=([poolkit-checked]="POOLKIT_CHECK=1" [poolkit-checked-nostack]="POOLKIT_CHECK=1 POOLKIT_STACK_DEPTH=0")
allocators=()
for a in $wanted; do
  [ -n "${LIB[$a]+set}" ] || { echo "run.sh: unknown allocator '$a'" >&2; exit 2; }
  if [ "$a" = glibc ] || [ -f "${LIB[$a]}" ]; then
    allocators+=("$a")
  else
    echo "run.sh: skipping $a (library '${LIB[$a]}' not found; scripts/deps.sh bench installs the peers)" >&2
  fi
done

results=build/workloads/results.tsv
: >"$results"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
start=$SECONDS
for ((rep = 0; rep < reps; rep++)); do
  # Rotate the allocator order each repetition so none always runs first or last.
  order=("${allocators[@]:rep % ${#allocators[@]}}" "${allocators[@]:0:rep % ${#allocators[@]}}")
  while IFS='|' read -r full quick_args; do
    [ -n "${full// /}" ] || continue
    read -r name full_args <<<"$full"
    [ -z "$only" ] || [[ " $only " == *" $name "* ]] || continue
    args=$full_args
    [ $quick = 1 ] && args=$quick_args
    for a in "${order[@]}"; do
      preload=()
      [ -n "${LIB[$a]}" ] && preload=("LD_PRELOAD=${LIB[$a]}")
      # shellcheck disable=SC2206  # VAR=value words on purpose
      [ -n "${ENVS[$a]:-}" ] && preload+=(${ENVS[$a]})
      status=ok
      # shellcheck disable=SC2086  # args are words on purpose
      timeout 300 /usr/bin/time -f "%e %M" -o "$scratch/time" \
        env "${preload[@]}" "build/workloads/${name%%:*}" $args >"$scratch/out" 2>"$scratch/err" || status=failed
      read -r seconds rss_kb < <(tail -1 "$scratch/time")
      checksum=$(awk '/checksum/ {print $3}' "$scratch/out")
      if [ $status != ok ] || [ -z "$checksum" ]; then
        status=failed failed=1
        echo "run.sh: $name under $a failed:" >&2
        tail -5 "$scratch/err" >&2
      fi
      printf '%s\t%s\t%d\t%s\t%s\t%s\t%s\n' "$name" "$a" "$rep" "${seconds:-0}" "${rss_kb:-0}" "${checksum:--}" "$status" >>"$results"
      printf '  rep %d %-15s %-9s %6.2f s %8d KiB %s\n' "$rep" "$name" "$a" "${seconds:-0}" "${rss_kb:-0}" "$status"
    done
  done <<<"$WORKLOADS"
done

mkdir -p "$(dirname "$out")"
python3 bench/workloads/report.py "$results" "$out" \
  --mode "$([ $quick = 1 ] && echo quick || echo full)" --reps "$reps" --seconds $((SECONDS - start)) \
  --poolkit "${poolkit_lib:-none}" --base "$base" || failed=1
echo "run.sh: wrote $out in $((SECONDS - start)) s"
exit $failed
