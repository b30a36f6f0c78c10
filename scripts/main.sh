#!/usr/bin/env bash
# scripts/main.sh: poolkit's main job on a fresh Debian 12 machine. Installs what is
# missing, builds in release mode (the bench preset), runs every example briefly, then
# benchmarks every poolkit pool against the allocators a user would pick instead and
# writes report/ (README.md with tables, ratios and targets, one SVG chart per pattern).
#   scripts/main.sh            full report (under 15 minutes on a 2-core machine)
#   scripts/main.sh --quick    quick report (about 2 minutes); or PKTEST_QUICK=1
# PKTEST_JOBS sets build parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/harness_env.sh

quick=${PKTEST_QUICK:-0}
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    *) echo "usage: scripts/main.sh [--quick]" >&2; exit 2 ;;
  esac
done

scripts/deps.sh build bench
cmake --preset bench >/dev/null
cmake --build --preset bench -j "${PKTEST_JOBS:-$(nproc)}"

for example in build/bench/examples/*; do
  [ -x "$example" ] && [ -f "$example" ] || continue
  echo "=== example $(basename "$example")"
  timeout 60 "$example"
done

# --- the benchmark report ---------------------------------------------------------
# Rounds run every configuration once each, in a rotated order, so slow drift of this
# shared machine spreads over all of them; inside a run Google Benchmark interleaves
# the repetitions of all benchmarks at random.
if [ "$quick" = 1 ]; then
  rounds=1 repetitions=3 min_time=0.1 mode=quick
else
  rounds=3 repetitions=4 min_time=0.1 mode=full
fi

# The malloc configurations: name and the library to LD_PRELOAD (glibc: none). The other
# mallocs run only the "/malloc" benchmarks; everything else runs in the glibc process.
source bench/peers.sh
declare -A PRELOAD=()
for peer in "${!PEER_LIB[@]}"; do PRELOAD[$peer]=${PEER_LIB[$peer]}; done
configs=(glibc jemalloc tcmalloc mimalloc)
poolkit_malloc=$(find build/bench/src/malloc -maxdepth 2 -name 'libpoolkit-malloc.so' -o -maxdepth 2 -name 'libpoolkit_malloc.so' 2>/dev/null | head -1 || true)
if [ -n "$poolkit_malloc" ]; then
  PRELOAD[poolkit]=$(realpath "$poolkit_malloc")
  configs+=(poolkit)
fi

bench=build/bench/bench/poolkit_bench
raw=report/raw
rm -rf "$raw" report/README.md report/*.svg && mkdir -p "$raw"  # report/ may hold other reports too
malloc_filter='/malloc(/|$)'

count_runs() {  # count_runs FILTER: benchmark runs (repetitions included) one process makes
  local n
  n=$("$bench" --benchmark_list_tests=true --benchmark_filter="$1" | wc -l)
  echo $((n * repetitions))
}
all_runs=$(count_runs '.')
malloc_runs=$(count_runs "$malloc_filter")
echo "=== benchmarks ($mode): ${#configs[@]} mallocs (${configs[*]}), $rounds round(s) x $repetitions repetitions, min time ${min_time}s"

start=$SECONDS
for ((round = 1; round <= rounds; round++)); do
  for ((i = 0; i < ${#configs[@]}; i++)); do
    config=${configs[$(((i + round - 1) % ${#configs[@]}))]}
    filter=$malloc_filter total=$malloc_runs
    [ "$config" = glibc ] && filter='.' total=$all_runs
    preload=${PRELOAD[$config]}
    [ -z "$preload" ] || [ -e "$preload" ] || { echo "main.sh: $preload missing, skipping $config" >&2; continue; }
    done_runs=0
    label="round $round/$rounds  malloc=$config"
    { env ${preload:+LD_PRELOAD=$preload} "$bench" \
      --benchmark_filter="$filter" \
      --benchmark_repetitions="$repetitions" \
      --benchmark_enable_random_interleaving=true \
      --benchmark_min_time="$min_time" \
      --benchmark_context=malloc="$config" \
      --benchmark_out="$raw/$config-round$round.json" --benchmark_out_format=json \
      2>"$raw/$config-round$round.err" || echo "main.sh: poolkit_bench failed for malloc=$config, see $raw/$config-round$round.err" >&2; } |
      while IFS= read -r line; do
        # One console line per finished repetition (aggregates end in _mean, _median, ...).
        if [[ $line =~ ^[A-Za-z0-9_]+/ && ! $line =~ _(mean|median|stddev|cv)\  ]]; then
          done_runs=$((done_runs + 1))
          if [ -t 1 ]; then printf '\r  %-34s %4d/%d runs  %4ds ' "$label" "$done_runs" "$total" $((SECONDS - start)); fi
        fi
      done
    if [ -t 1 ]; then printf '\n'; else printf '  %-34s done  %4ds\n' "$label" $((SECONDS - start)); fi
  done
done
echo "=== benchmarks done in $((SECONDS - start))s"

python3 bench/report.py --out report \
  --settings "$mode mode: $rounds round(s) of every malloc configuration in rotated order, $repetitions repetitions each interleaved at random, min time ${min_time}s per repetition; single-threaded patterns in CPU time, thread patterns in wall time except threads2_prodcons32 (CPU time of both threads)" \
  "$raw"/*.json
