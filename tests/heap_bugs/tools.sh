# tests/heap_bugs/tools.sh (sourced by check.sh and compare.sh): how each tool runs a
# heap-bug program and how its output is read.
#
# heap_bug_outcome TOOL KIND PROGRAM [ARGS...] prints one word:
#   caught   the tool printed a report naming a heap error (its own signature below)
#   fault    SIGSEGV/SIGBUS at the bad access itself, no report (kind "access" only;
#            how electric-fence and DUMA report: the debugger shows the line)
#   crash    died without a report: later on, or inside the allocator during a bad call
#   missed   ran to the end ("heap-bug: end"), exit 0, no report
#   timeout  still running after HEAP_BUGS_TIMEOUT seconds (default 20)
#   error    the program did not reach its bug (set-up failed; see the log)
# Reads: HEAP_BUGS_BIN (plain programs), HEAP_BUGS_ASAN_BIN (built with ASan),
# HEAP_BUGS_POOLKIT (libpoolkit-malloc.so); HEAP_BUGS_LOG, if set, gets the output.

HEAP_BUGS_TOOLS="poolkit-checked poolkit-default glibc glibc-check valgrind efence duma asan"
HEAP_BUGS_LIBDIR=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

# What each tool prints when it reports a heap error (extended regex).
heap_bug_signature() {
  case $1 in
    # poolkit's reports start with "poolkit" (warnings and failed internal assertions
    # are not reports); an invalid free says "free(): invalid pointer" as glibc does.
    poolkit-*) echo '(^|[ =])poolkit[^:]*: |^free\(\): invalid pointer' ;;
    glibc|glibc-check) echo '^(free|malloc|realloc|calloc|munmap_chunk|malloc_consolidate|_int_malloc|_int_free|tcache_thread_shutdown)\(\)|double free or corruption|^corrupted ' ;;
    valgrind) echo '^==[0-9]+== (Invalid (read|write|free)|Mismatched free|Source and destination overlap)' ;;
    efence) echo 'ElectricFence Aborting' ;;
    duma) echo 'DUMA Aborting' ;;
    asan) echo 'ERROR: AddressSanitizer' ;;
  esac
}

# heap_bug_command TOOL PROGRAM ARGS...: sets the array HEAP_BUG_CMD to the command
# line that runs the program under TOOL.
heap_bug_command() {
  local tool=$1 program=$2; shift 2
  local plain=$HEAP_BUGS_BIN/$program
  case $tool in
    poolkit-checked) HEAP_BUG_CMD=(env LD_PRELOAD="$HEAP_BUGS_POOLKIT" POOLKIT_CHECK=1 "$plain" "$@") ;;
    poolkit-default) HEAP_BUG_CMD=(env LD_PRELOAD="$HEAP_BUGS_POOLKIT" "$plain" "$@") ;;
    glibc) HEAP_BUG_CMD=("$plain" "$@") ;;
    # Since glibc 2.34 MALLOC_CHECK_ only works with libc_malloc_debug.so preloaded.
    glibc-check) HEAP_BUG_CMD=(env LD_PRELOAD="$HEAP_BUGS_LIBDIR/libc_malloc_debug.so.0" MALLOC_CHECK_=3 MALLOC_PERTURB_=165 "$plain" "$@") ;;
    valgrind) HEAP_BUG_CMD=(valgrind -q --leak-check=no --error-exitcode=97 "$plain" "$@") ;;
    # EF_ALLOW_MALLOC_0: without it electric-fence aborts on every malloc(0), a legal call.
    efence) HEAP_BUG_CMD=(env LD_PRELOAD=/usr/lib/libefence.so.0 EF_ALLOW_MALLOC_0=1 "$plain" "$@") ;;
    duma) HEAP_BUG_CMD=(env LD_PRELOAD=/usr/lib/libduma.so.0 "$plain" "$@") ;;
    asan) HEAP_BUG_CMD=(env ASAN_OPTIONS=detect_leaks=0 "$HEAP_BUGS_ASAN_BIN/$program" "$@") ;;
    *) echo "tools.sh: unknown tool '$tool' ($HEAP_BUGS_TOOLS)" >&2; return 2 ;;
  esac
}

heap_bug_outcome() {
  local tool=$1 kind=$2; shift 2
  local out rc=0
  heap_bug_command "$tool" "$@" || return 2
  out=$(mktemp)
  timeout -k 5 "${HEAP_BUGS_TIMEOUT:-20}" "${HEAP_BUG_CMD[@]}" >"$out" 2>&1 </dev/null || rc=$?
  local outcome
  if grep -Eq "$(heap_bug_signature "$tool")" "$out"; then
    outcome=caught
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    outcome=timeout
  elif ! grep -q '^heap-bug: begin' "$out"; then
    outcome=error
  elif [ $rc -eq 0 ] && grep -q '^heap-bug: end' "$out"; then
    outcome=missed
  elif [ "$kind" = access ] && { [ $rc -eq 139 ] || [ $rc -eq 135 ]; } && ! grep -q '^heap-bug: done' "$out"; then
    outcome=fault
  else
    outcome=crash
  fi
  if [ -n "${HEAP_BUGS_LOG:-}" ]; then
    { echo "### $tool $* -> $outcome (exit $rc)"; cat "$out"; } >>"$HEAP_BUGS_LOG"
  fi
  rm -f "$out"
  echo "$outcome"
}
