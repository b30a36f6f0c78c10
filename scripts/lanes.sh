# scripts/lanes.sh: the test lanes scripts/test.sh runs (sourced, not run).
# A lane is a function lane_<name>; run_lane times it, records pass or fail,
# and adds its ctest counts to the totals that summarize_lanes prints.

JOBS=${POOLKIT_JOBS:-$(nproc)}
declare -a LANE_RESULTS=()
TOTAL_PASSED=0
TOTAL_FAILED=0

# ctest_preset PRESET [ctest args...]: configure, build and test one preset,
# adding its pass and fail counts to the totals.
ctest_preset() {
  local preset=$1; shift
  cmake --preset "$preset" -DPOOLKIT_WERROR=ON >/dev/null
  cmake --build --preset "$preset" -j "$JOBS"
  local log rc=0
  log=$(mktemp)
  ctest --test-dir "build/$preset" --output-on-failure -j "$JOBS" "$@" 2>&1 | tee "$log" || rc=$?
  local line
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1 || true)
  if [[ $line =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
    TOTAL_FAILED=$((TOTAL_FAILED + BASH_REMATCH[1]))
    TOTAL_PASSED=$((TOTAL_PASSED + BASH_REMATCH[2] - BASH_REMATCH[1]))
  fi
  rm -f "$log"
  return $rc
}

lane_debug() { ctest_preset debug; }
lane_asan() {
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ctest_preset asan
}

# --- suite section: real programs on the drop-in malloc (tests/programs/run.sh) ---
# Each program runs with and without libpoolkit-malloc.so preloaded; outputs must match.
lane_programs() {
  scripts/deps.sh programs
  tests/programs/run.sh
}
# --- end of suite section ---

run_lane() {
  local lane=$1 start=$SECONDS rc=0
  echo "=== lane $lane"
  "lane_$lane" || rc=$?
  local verdict=passed
  [ $rc -eq 0 ] || verdict="FAILED (exit $rc)"
  LANE_RESULTS+=("$(printf '%-10s %-18s %4ds' "$lane" "$verdict" $((SECONDS - start)))")
}

summarize_lanes() {
  echo "=== lanes"
  local failed=0 row
  for row in "${LANE_RESULTS[@]}"; do
    echo "  $row"
    [[ $row == *FAILED* ]] && failed=1
  done
  echo "tests: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
  return $failed
}
