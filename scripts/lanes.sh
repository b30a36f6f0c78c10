# scripts/lanes.sh: the test lanes scripts/test.sh runs (sourced, not run).
# A lane is a function lane_<name>; run_lane times it, records pass or fail,
# and adds its ctest counts to the totals that summarize_lanes prints.

JOBS=${PKTEST_JOBS:-$(nproc)}
declare -a LANE_RESULTS=()
TOTAL_PASSED=0
TOTAL_FAILED=0

# A lane runs as `lane_X || rc=$?`, where bash ignores set -e inside it: every build
# step says itself that the lane failed (a target that does not build would otherwise
# leave its tests unregistered, and the lane green).
#
# ctest_preset PRESET [ctest args...]: configure, build and test one preset,
# adding its pass and fail counts to the totals.
ctest_preset() {
  local preset=$1; shift
  cmake --preset "$preset" -DPOOLKIT_WERROR=ON >/dev/null || return 1
  cmake --build --preset "$preset" -j "$JOBS" || return 1
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

# --- sanitizer, valgrind and fuzz lanes (issue 4) ------------------------------
# tsan: the threaded tests (names containing "threads") under ThreadSanitizer, the
# checked-mode variants (*.checked) included. tests/sanitizers/tsan.supp says why
# libunwind's own calls are ignored.
lane_tsan() {
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/sanitizers/tsan.supp \
    ctest_preset tsan -R threads
}

# valgrind: every unit test binary under memcheck, zero errors and no leaks allowed;
# the tool_reports tests run natively (they start valgrind on a victim themselves).
# PKTEST_SCALE shrinks the randomized tests (default 20 here).
lane_valgrind() {
  cmake --preset valgrind -DPOOLKIT_WERROR=ON >/dev/null || return 1
  cmake --build --preset valgrind -j "$JOBS" || return 1
  export PKTEST_SCALE=${PKTEST_SCALE:-20}
  local rc=0 exe out passed failed
  for exe in $(find build/valgrind/tests -maxdepth 3 -type f -name '*_test' -perm -u+x | sort); do
    [[ $exe == */tool_reports_test ]] && continue
    out=$(mktemp)
    echo "--- valgrind $(basename "$exe")"
    # nouserintercepts: the malloc tests link poolkit's drop-in malloc into the test
    # itself; memcheck must leave that malloc alone (it intercepts libc's as usual).
    if valgrind -q --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite \
        --soname-synonyms=somalloc=nouserintercepts \
        --suppressions="$PWD/tests/sanitizers/valgrind.supp" "$exe" --gtest_brief=1 >"$out" 2>&1; then
      passed=$(grep -Eo '\[  PASSED  \] [0-9]+' "$out" | grep -Eo '[0-9]+$' || echo 1)
      TOTAL_PASSED=$((TOTAL_PASSED + passed))
      tail -2 "$out"
    else
      cat "$out"
      failed=$(grep -Eo '[0-9]+ FAILED TEST' "$out" | grep -Eo '^[0-9]+' || echo 1)
      TOTAL_FAILED=$((TOTAL_FAILED + failed))
      rc=1
    fi
    rm -f "$out"
  done
  local log
  log=$(mktemp)
  ctest --test-dir build/valgrind --output-on-failure -R ToolReports 2>&1 | tee "$log" || rc=1
  if [[ $(grep -E "tests failed out of" "$log" | tail -1) =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
    TOTAL_FAILED=$((TOTAL_FAILED + BASH_REMATCH[1]))
    TOTAL_PASSED=$((TOTAL_PASSED + BASH_REMATCH[2] - BASH_REMATCH[1]))
  fi
  rm -f "$log"
  return $rc
}

# fuzz: every libFuzzer harness (clang, ASan+UBSan) for PKTEST_FUZZ_SECONDS (20)
# each, starting from its seed corpus; new inputs go to a scratch directory.
lane_fuzz() {
  CC=clang CXX=clang++ cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPOOLKIT_BUILD_FUZZ=ON -DPOOLKIT_BUILD_TESTS=OFF -DPOOLKIT_BUILD_EXAMPLES=OFF \
    -DPOOLKIT_BUILD_MALLOC=OFF -DPOOLKIT_BUILD_TOOLS=OFF -DPOOLKIT_WERROR=ON \
    "-DPOOLKIT_SANITIZE=address;undefined" >/dev/null || return 1
  cmake --build build/fuzz -j "$JOBS" --target poolkit_fuzzers || return 1
  local rc=0 harness name scratch ran=0
  for harness in build/fuzz/tests/fuzz/fuzz_*; do
    [ -x "$harness" ] && [ -f "$harness" ] || continue
    name=$(basename "$harness")
    name=${name#fuzz_}
    ran=$((ran + 1))
    scratch=$(mktemp -d)
    echo "--- fuzz $name"
    if ASAN_OPTIONS=detect_leaks=1 "$harness" -max_total_time="${PKTEST_FUZZ_SECONDS:-20}" \
        -artifact_prefix="$scratch/" "$scratch" "tests/fuzz/corpus/$name" 2>&1 | tail -3; then
      TOTAL_PASSED=$((TOTAL_PASSED + 1))
    else
      TOTAL_FAILED=$((TOTAL_FAILED + 1))
      rc=1
      ls "$scratch"/crash-* "$scratch"/leak-* 2>/dev/null || true
    fi
    rm -rf "$scratch"
  done
  if [ "$ran" -eq 0 ]; then
    echo "fuzz: no harness was built" >&2
    return 1
  fi
  return $rc
}
# --- end of issue 4 lanes -----------------------------------------------------

# --- suite section: real programs on the drop-in malloc (tests/programs/run.sh) ---
# Each program runs with and without libpoolkit-malloc.so preloaded; outputs must match.
# Each step that passes or fails counts as one test in the totals.
lane_programs() {
  scripts/deps.sh programs
  local log rc=0
  log=$(mktemp)
  tests/programs/run.sh 2>&1 | tee "$log" || rc=$?
  TOTAL_PASSED=$((TOTAL_PASSED + $(grep -c '^PASS ' "$log" || true)))
  TOTAL_FAILED=$((TOTAL_FAILED + $(grep -c '^FAIL ' "$log" || true)))
  rm -f "$log"
  return $rc
}
# --- end of suite section ---

# --- packages: scripts/package.sh builds the Debian packages into dist/ (lintian must
# report no error), then tests/packages/run.sh unpacks them into a scratch root and
# builds and runs the C and C++ consumers against it. Each check counts as a test.
lane_packages() {
  scripts/deps.sh build package
  local log rc=0
  log=$(mktemp)
  { scripts/package.sh && tests/packages/run.sh dist; } 2>&1 | tee "$log" || rc=$?
  TOTAL_PASSED=$((TOTAL_PASSED + $(grep -c '^PASS ' "$log" || true)))
  TOTAL_FAILED=$((TOTAL_FAILED + $(grep -c '^FAIL ' "$log" || true)))
  # A package build or lintian failure comes before any check: count it as one.
  if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$log"; then TOTAL_FAILED=$((TOTAL_FAILED + 1)); fi
  rm -f "$log"
  return $rc
}
# --- end of packages ---

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
