#!/usr/bin/env bash
# tests/heap_bugs/compare.sh [--bugs-only | --speed-only | --tables-only] [--reps N] [--out FILE] [--docs]
# The comparison of docs/checked_comparison.md, re-run by this one command:
#  1. every heap-bug program of expectations.txt under every tool (tools.sh): poolkit
#     checked (POOLKIT_CHECK=1) and default (LD_PRELOAD of the release build's
#     libpoolkit-malloc.so), glibc's malloc, glibc with MALLOC_CHECK_=3 and
#     MALLOC_PERTURB_, valgrind memcheck, electric-fence, DUMA, and the programs rebuilt
#     with -fsanitize=address; a table of bug classes x tools;
#  2. a subset of bench/workloads, scaled down so that valgrind finishes, under each
#     tool, interleaved (the tool order rotates each repetition), N repetitions
#     (default 3); a table of median slowdowns against plain glibc.
#   --out FILE  the tables (default report/checked_comparison.md); the raw results and
#               every tool's output stay in build/heap_bugs/ (bugs.tsv, speed.tsv, bugs.log)
#   --docs      also replace the tables in docs/checked_comparison.md
#   --tables-only  run nothing: the tables from the last results in build/heap_bugs/
#               (e.g. the bug table re-run with --bugs-only, the slowdowns kept)
set -euo pipefail
cd "$(dirname "$0")/../.."

bugs=1 speed=1 reps=3 out=report/checked_comparison.md docs=0 tables_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --bugs-only) speed=0 ;;
    --speed-only) bugs=0 ;;
    --tables-only) tables_only=1 ;;
    --reps) reps=$2; shift ;;
    --out) out=$2; shift ;;
    --docs) docs=1 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --reps takes a positive number, not '$reps'" >&2; exit 2; }

work=build/heap_bugs
mkdir -p "$work" "$(dirname "$out")"
if [ $tables_only = 1 ]; then
  bugs=0 speed=0
  [ -f "$work/bugs.tsv" ] && bugs=2
  [ -f "$work/speed.tsv" ] && speed=2
fi
# --- builds: poolkit's malloc, the programs plain and with ASan, the workloads ------
jobs=${PKTEST_JOBS:-2}
asan_cxx=(-DCMAKE_CXX_FLAGS=-fsanitize=address -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address)
asan_flags=(-DCMAKE_C_FLAGS=-fsanitize=address "${asan_cxx[@]}")
build_all() {
  scripts/deps.sh build test compare

  cmake --preset release >/dev/null
  cmake --build --preset release --target poolkit-malloc -j "$jobs" >/dev/null
  cmake -S tests/heap_bugs -B "$work/plain" -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake -S tests/heap_bugs -B "$work/asan" -DCMAKE_BUILD_TYPE=Debug "${asan_flags[@]}" >/dev/null
  cmake --build "$work/plain" -j "$jobs" >/dev/null
  cmake --build "$work/asan" -j "$jobs" >/dev/null
}
[ $tables_only = 1 ] || build_all
source tests/heap_bugs/tools.sh
export HEAP_BUGS_POOLKIT=$PWD/build/release/src/malloc/libpoolkit-malloc.so
export HEAP_BUGS_BIN=$PWD/$work/plain/bin HEAP_BUGS_ASAN_BIN=$PWD/$work/asan/bin

# --- 1. the bug table ------------------------------------------------------------------
if [ $bugs = 1 ]; then
  export HEAP_BUGS_LOG=$PWD/$work/bugs.log
  : >"$HEAP_BUGS_LOG"
  : >"$work/bugs.tsv"
  start=$SECONDS
  while read -r id kind _checked _default program args; do
    [[ -z $id || $id == \#* ]] && continue
    line=$id
    for tool in $HEAP_BUGS_TOOLS; do
      # shellcheck disable=SC2086  # args are plain words
      result=$(heap_bug_outcome "$tool" "$kind" "$program" $args)
      printf '%s\t%s\t%s\n' "$id" "$tool" "$result" >>"$work/bugs.tsv"
      line+=" $tool=$result"
    done
    echo "$line"
  done < tests/heap_bugs/expectations.txt
  echo "compare.sh: bug table in $((SECONDS - start)) s"
fi

# --- 2. the slowdowns ------------------------------------------------------------------
# name and arguments: ~0.1-0.3 s each under plain glibc on a 2-core machine
SPEED_WORKLOADS="
larson 100000 2
mstress 50000 2
xmalloc_test 500000 2
cache_scratch 5000 2
glibc_simple 3000
sh6bench 300000 2
binary_trees 13 2
realloc_growth 40000
"
# electric-fence and DUMA give every block its own pages: they run out of mappings or
# take minutes on these, so they get one repetition and a short limit.
SLOW_TOOLS="efence duma"
SLOW_LIMIT=${HEAP_BUGS_SLOW_LIMIT:-15}
if [ $speed = 1 ]; then
  cmake -S bench/workloads -B build/workloads -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/workloads -j "$jobs" >/dev/null
  cmake -S bench/workloads -B "$work/workloads-asan" -DCMAKE_BUILD_TYPE=Release "${asan_cxx[@]}" >/dev/null
  cmake --build "$work/workloads-asan" -j "$jobs" >/dev/null
  speed_cmd() {  # speed_cmd TOOL WORKLOAD ARGS...: sets HEAP_BUG_CMD
    local tool=$1 workload=$2; shift 2
    local plain=build/workloads/$workload
    case $tool in
      glibc) HEAP_BUG_CMD=("$plain" "$@") ;;
      valgrind) HEAP_BUG_CMD=(valgrind -q --leak-check=no "$plain" "$@") ;;
      asan) HEAP_BUG_CMD=(env ASAN_OPTIONS=detect_leaks=0 "$work/workloads-asan/$workload" "$@") ;;
      *) HEAP_BUGS_BIN=build/workloads heap_bug_command "$tool" "$workload" "$@" ;;
    esac
  }
  : >"$work/speed.tsv"
  tools=(glibc $HEAP_BUGS_TOOLS)
  start=$SECONDS
  for ((rep = 0; rep < reps; rep++)); do
    order=("${tools[@]:rep % ${#tools[@]}}" "${tools[@]:0:rep % ${#tools[@]}}")
    while read -r workload args; do
      [ -n "$workload" ] || continue
      for tool in "${order[@]}"; do
        limit=300
        if [[ " $SLOW_TOOLS " == *" $tool "* ]]; then
          [ $rep -eq 0 ] || continue
          limit=$SLOW_LIMIT
        fi
        # shellcheck disable=SC2086  # args are plain words
        speed_cmd "$tool" "$workload" $args
        t0=$EPOCHREALTIME rc=0
        timeout -k 5 "$limit" "${HEAP_BUG_CMD[@]}" >/dev/null 2>"$work/speed.err" || rc=$?
        t1=$EPOCHREALTIME
        if [ $rc -eq 0 ]; then
          value=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
          value=timeout:$limit
        else
          value=fail
          echo "compare.sh: $tool $workload failed (exit $rc): $(tail -c 300 "$work/speed.err" | tr '\n' ' ')" >&2
        fi
        printf '%s\t%s\t%s\t%s\n' "$workload" "$tool" "$rep" "$value" >>"$work/speed.tsv"
      done
    done <<<"$SPEED_WORKLOADS"
    echo "compare.sh: repetition $((rep + 1)) of $reps done ($((SECONDS - start)) s)"
  done
fi

# --- the tables ------------------------------------------------------------------------
{
  echo "<!-- written by tests/heap_bugs/compare.sh on $(date -u +%Y-%m-%d), $(nproc) cores -->"
  python3 tests/heap_bugs/tables.py "$([ $bugs != 0 ] && echo "$work/bugs.tsv" || echo -)" \
    "$([ $speed != 0 ] && echo "$work/speed.tsv" || echo -)" tests/heap_bugs/expectations.txt
} >"$out"
echo "compare.sh: tables in $out"
if [ $docs = 1 ]; then
  python3 - "$out" docs/checked_comparison.md <<'PY'
import sys
tables, page = open(sys.argv[1]).read(), sys.argv[2]
text = open(page).read()
begin, end = "<!-- tables: begin -->", "<!-- tables: end -->"
if begin not in text or end not in text:
    sys.exit(f"compare.sh: {page} has no '{begin}' ... '{end}' markers")
head, rest = text.split(begin, 1)
open(page, "w").write(head + begin + "\n" + tables + rest[rest.index(end):])
PY
  echo "compare.sh: tables replaced in docs/checked_comparison.md"
fi
