#!/usr/bin/env bash
# bench/workloads/trace_overhead.sh [--reps N] [--only "w1 w2"] [--before LIB] [--instructions]:
# what `poolkit trace` costs, side by side with heaptrack (the anchor): every workload
# runs plain (glibc), under `poolkit run` (poolkit's malloc, untraced: what the tracer
# serves calls from), under `poolkit trace` and under heaptrack, interleaved, the order
# rotating each repetition. Prints median wall and CPU (user+sys) seconds and the
# ratios to the plain run. Uses the release build (built here if missing) and build/workloads.
# --before LIB adds a column for another libpoolkit-trace.so (an older build, to compare).
# --instructions counts user-space instructions instead (valgrind's cachegrind, every
# process of the run; one run each at a tenth of the sizes; without heaptrack, whose
# preload records nothing under valgrind): the same on every run, so a change of a few
# percent shows on a noisy machine where CPU time cannot.
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=3 only="" before="" instructions=0
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift ;;
    --only) only=$2; shift ;;
    --before) before=$(realpath "$2"); shift ;;
    --instructions) instructions=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "trace_overhead.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
command -v heaptrack >/dev/null || { echo "trace_overhead.sh: needs heaptrack (scripts/deps.sh bench)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "trace_overhead.sh: needs /usr/bin/time" >&2; exit 2; }
[ "$instructions" = 0 ] || command -v valgrind >/dev/null ||
  { echo "trace_overhead.sh: --instructions needs valgrind (scripts/deps.sh bench)" >&2; exit 2; }
cmake --preset release >/dev/null
cmake --build --preset release --target poolkit_cli poolkit-trace poolkit-malloc -j "${PKTEST_JOBS:-2}" >/dev/null
cmake -S bench/workloads -B build/workloads -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/workloads -j "${PKTEST_JOBS:-2}" >/dev/null
poolkit=$PWD/build/release/tools/poolkit
source bench/peers.sh  # median

# Smaller than run.sh's sizes: a traced run writes every call.
WORKLOADS="
binary_trees   14 2
glibc_simple   5000
larson         100000 4
mstress        50000 4
cache_scratch  10000 4
malloc_large   125
realloc_growth 200000
"
# Under cachegrind (about 50x slower): a tenth of the sizes, one run (the counts repeat).
if [ "$instructions" = 1 ]; then
  reps=1
  WORKLOADS="
binary_trees   11 2
glibc_simple   500
larson         10000 4
mstress        5000 4
cache_scratch  1000 4
malloc_large   13
realloc_growth 20000
"
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
declare -A WALL CPU INSN
configs=(plain run trace heaptrack)
# heaptrack's preload records nothing under valgrind (its program runs as if plain): left out.
[ "$instructions" = 0 ] || configs=(plain run trace)
[ -z "$before" ] || configs+=(before)
while read -r name args; do
  [ -n "$name" ] || continue
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
  exe=$PWD/build/workloads/$name
  for ((r = 0; r < reps; r++)); do
    for ((k = 0; k < ${#configs[@]}; k++)); do
      c=${configs[$(((k + r) % ${#configs[@]}))]}
      rm -f "$scratch"/t.pktrace* "$scratch"/ht*
      case $c in
        plain) cmd=("$exe" $args) ;;
        run) cmd=("$poolkit" run -- "$exe" $args) ;;
        trace) cmd=("$poolkit" trace -o "$scratch/t.pktrace" -- "$exe" $args) ;;
        before) cmd=("$poolkit" trace --lib "$before" -o "$scratch/t.pktrace" -- "$exe" $args) ;;
        heaptrack) cmd=(heaptrack -o "$scratch/ht" "$exe" $args) ;;
      esac
      if [ "$instructions" = 1 ]; then
        # Every process of the run (poolkit's CLI, the program, heaptrack's interpreter).
        rm -f "$scratch"/cg.*
        valgrind --tool=cachegrind --cache-sim=no --trace-children=yes --cachegrind-out-file="$scratch/cg.%p" \
          "${cmd[@]}" >/dev/null 2>&1 || true
        INSN[$name.$c]=$(cat "$scratch"/cg.* | awk '/^summary:/ { n += $2 } END { printf "%.1f", n / 1e6 }')
        continue
      fi
      /usr/bin/time -f "%e %U %S" -o "$scratch/time" "${cmd[@]}" >/dev/null 2>&1
      read -r wall user sys <"$scratch/time"
      WALL[$name.$c]+="$wall "
      CPU[$name.$c]+="$(echo "$user + $sys" | bc) "
    done
  done
done <<<"$WORKLOADS"

if [ "$instructions" = 1 ]; then
  header=$(printf "%-15s %12s %22s %22s" workload "plain Minsn" "poolkit run (x)" "poolkit trace (x)")
  [ -z "$before" ] || header+=$(printf " %22s" "trace --before (x)")
  echo "$header"
  while read -r name args; do
    [ -n "$name" ] || continue
    if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
    p=${INSN[$name.plain]}
    line=$(printf "%-15s %12s" "$name" "$p")
    for c in "${configs[@]:1}"; do
      line+=$(printf " %13s (%5.2fx)" "${INSN[$name.$c]}" "$(echo "${INSN[$name.$c]} / $p" | bc -l)")
    done
    echo "$line"
  done <<<"$WORKLOADS"
  echo "millions of user-space instructions (cachegrind, every process of the run); (x) = ratio to the plain run"
  exit 0
fi
header=$(printf "%-15s %28s %28s %28s %28s" workload "plain wall/cpu" "poolkit run wall/cpu (x)" "poolkit trace wall/cpu (x)" "heaptrack wall/cpu (x)")
[ -z "$before" ] || header+=$(printf " %28s" "trace --before wall/cpu (x)")
echo "$header"
while read -r name args; do
  [ -n "$name" ] || continue
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then continue; fi
  pw=$(echo "${WALL[$name.plain]}" | median); pc=$(echo "${CPU[$name.plain]}" | median)
  line=$(printf "%-15s %13s %14s" "$name" "$pw" "$pc")
  for c in "${configs[@]:1}"; do
    w=$(echo "${WALL[$name.$c]}" | median); u=$(echo "${CPU[$name.$c]}" | median)
    line+=$(printf " %7s %6s (%5.1fx %5.1fx)" "$w" "$u" "$(echo "$w / $pw" | bc -l)" "$(echo "$u / ($pc + 0.001)" | bc -l)")
  done
  echo "$line"
done <<<"$WORKLOADS"
echo "medians of $reps interleaved runs; seconds; (x) = ratio to the plain run, wall then CPU"
