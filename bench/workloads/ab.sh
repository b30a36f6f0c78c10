#!/usr/bin/env bash
# bench/workloads/ab.sh [--reps N] [--full] LIB_A LIB_B [ENV=VALUE...]
# Before/after measurement of a change to the malloc: every workload of run.sh (its
# quick arguments unless --full) under LD_PRELOAD of LIB_A and of LIB_B, interleaved
# (A then B on even repetitions, B then A on odd ones), N repetitions (default 7).
# Prints the median wall time and CPU time (user + system, steadier on a shared
# machine) of each and the ratios B/A per workload, and their geometric means.
# ENV=VALUE pairs are set for both (e.g. POOLKIT_CHECK=1).
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=7 full=0
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --full) full=1; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] && [ -f "$1" ] && [ -f "$2" ] || { echo "usage: ab.sh [--reps N] [--full] LIB_A LIB_B [ENV=VALUE...]" >&2; exit 2; }
lib_a=$(realpath "$1") lib_b=$(realpath "$2")
shift 2
cmake -S bench/workloads -B build/workloads -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/workloads -j "${PKTEST_JOBS:-2}" >/dev/null
# The workloads and their arguments, from run.sh (name full | quick).
workloads=$(sed -n '/^WORKLOADS="/,/^"/p' bench/workloads/run.sh | sed '1d;$d')
results=$(mktemp)
trap 'rm -f "$results" "$results.time"' EXIT
for ((rep = 0; rep < reps; rep++)); do
  while IFS='|' read -r full_part quick_args; do
    read -r name full_args <<<"$full_part"
    args=$quick_args
    [ $full = 1 ] && args=$full_args
    order=(A B)
    [ $((rep % 2)) -eq 1 ] && order=(B A)
    for side in "${order[@]}"; do
      lib=$lib_a
      [ "$side" = B ] && lib=$lib_b
      # shellcheck disable=SC2086  # args are words on purpose
      /usr/bin/time -f "%e %U %S" -o "$results.time" env LD_PRELOAD="$lib" "$@" "build/workloads/${name%%:*}" $args >/dev/null
      echo "$name $side $(tail -1 "$results.time")" >>"$results"
    done
  done <<<"$workloads"
  echo "ab.sh: repetition $((rep + 1)) of $reps" >&2
done
python3 - "$results" <<'PY'
import collections, math, statistics, sys
wall, cpu = collections.defaultdict(list), collections.defaultdict(list)
order = []
for line in open(sys.argv[1]):
    name, side, elapsed, user, system = line.split()
    if name not in order:
        order.append(name)
    wall[(name, side)].append(float(elapsed))
    cpu[(name, side)].append(float(user) + float(system))
print(f"{'workload':16} {'wall A':>7} {'wall B':>7} {'B/A':>6}   {'cpu A':>7} {'cpu B':>7} {'B/A':>6}")
logs_wall, logs_cpu = [], []
for name in order:
    wa, wb = statistics.median(wall[(name, "A")]), statistics.median(wall[(name, "B")])
    ca, cb = statistics.median(cpu[(name, "A")]), statistics.median(cpu[(name, "B")])
    logs_wall.append(math.log(wb / wa))
    logs_cpu.append(math.log(cb / ca))
    print(f"{name:16} {wa:7.3f} {wb:7.3f} {wb / wa:6.3f}   {ca:7.3f} {cb:7.3f} {cb / ca:6.3f}")
gw = math.exp(sum(logs_wall) / len(logs_wall))
gc = math.exp(sum(logs_cpu) / len(logs_cpu))
print(f"{'geometric mean':16} {'':7} {'':7} {gw:6.3f}   {'':7} {'':7} {gc:6.3f}")
PY
