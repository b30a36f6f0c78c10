#!/usr/bin/env bash
# check.sh LIB BINDIR: the ctest test heap_bugs. Runs every case of expectations.txt
# (programs in BINDIR) with LIB (libpoolkit-malloc.so) preloaded, in checked mode
# (POOLKIT_CHECK=1) and in the default mode, and compares with the expectations:
#   caught: a report is required, anything else fails (a regression);
#   clean:  the control must run to its end with no report;
#   miss:   expected-miss, passes; a case that is now caught is listed, to be flipped;
#   either: not held either way (caught or not by the chance of the heap's layout).
# Exits non-zero on any failure. CASES="id-prefix ..." runs only those cases.
# HEAP_BUGS_UNHARDENED=1 (a malloc built with POOLKIT_MALLOC_HARDEN=OFF): the default
# mode's "caught" lines are not held.
set -u
[ $# -eq 2 ] && [ -f "$1" ] && [ -d "$2" ] || { echo "usage: check.sh LIB BINDIR"; exit 2; }
HEAP_BUGS_POOLKIT=$(realpath "$1") HEAP_BUGS_BIN=$(realpath "$2")
export HEAP_BUGS_POOLKIT HEAP_BUGS_BIN HEAP_BUGS_TIMEOUT=${HEAP_BUGS_TIMEOUT:-20}
cd "$(dirname "$0")"
source ./tools.sh

failures=0 checked=0
flips=()
verdict() {  # verdict ID MODE EXPECTED OUTCOME
  local id=$1 mode=$2 want=$3 got=$4
  checked=$((checked + 1))
  case $want in
    caught) [ "$got" = caught ] || { echo "FAIL $id ($mode): expected caught, got $got"; failures=$((failures + 1)); } ;;
    clean)  [ "$got" = missed ] || { echo "FAIL $id ($mode): the control must run clean, got $got"; failures=$((failures + 1)); } ;;
    miss)   [ "$got" = caught ] && flips+=("$id ($mode)") ;;
    either) ;;
    *) echo "FAIL $id: unknown expectation '$want' (caught, miss, clean, either)"; failures=$((failures + 1)) ;;
  esac
}

while read -r id kind want_checked want_default program args; do
  [[ -z $id || $id == \#* ]] && continue
  if [ -n "${CASES:-}" ]; then
    match=0
    for prefix in $CASES; do [[ $id == "$prefix"* ]] && match=1; done
    [ $match = 1 ] || continue
  fi
  # shellcheck disable=SC2086  # args are plain words
  got_checked=$(heap_bug_outcome poolkit-checked "$kind" "$program" $args)
  got_default=$(heap_bug_outcome poolkit-default "$kind" "$program" $args)
  printf '%-32s checked %-7s (want %-6s)  default %-7s (want %s)\n' "$id" "$got_checked" "$want_checked" \
    "$got_default" "$want_default"
  verdict "$id" checked "$want_checked" "$got_checked"
  [ "${HEAP_BUGS_UNHARDENED:-0}" = 1 ] && [ "$want_default" = caught ] && want_default=either
  verdict "$id" default "$want_default" "$got_default"
done < expectations.txt

if [ ${#flips[@]} -gt 0 ]; then
  echo "now caught but marked expected-miss (flip these to caught in expectations.txt):"
  printf '  %s\n' "${flips[@]}"
fi
echo "heap_bugs: $checked checks, $failures failed, ${#flips[@]} expected-miss now caught"
[ $failures -eq 0 ]
