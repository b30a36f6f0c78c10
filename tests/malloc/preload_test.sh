#!/usr/bin/env bash
# preload_test.sh LIB PROBE CXX: runs programs with LD_PRELOAD=LIB
# (libpoolkit-malloc.so) and checks they behave exactly as without it: the probe, ls,
# sort on generated data, python3 on a mixed workload; then the options
# (POOLKIT_STATS summary, unknown-option warning) and the bad-input reports (invalid
# pointer, double free, overflow under POOLKIT_CHECK=1), each of which must abort with
# its message; then what the library brings into a process (it needs only libc; a C
# program maps no C++ runtime, and libunwind only in checked mode) and operator new
# in a C++ program (CXX: std::bad_alloc, the new_handler loop, nothrow) through the
# program's own C++ runtime.
set -u
LIB=$(realpath "$1")
PROBE=$(realpath "$2")
CXX_PROGRAM=$(realpath "$3")
[ -f "$LIB" ] && [ -x "$PROBE" ] && [ -x "$CXX_PROGRAM" ] || { echo "usage: preload_test.sh LIB PROBE CXX"; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }
run() { env LD_PRELOAD="$LIB" "$@"; }

# 1. the probe
if out=$(run "$PROBE" 2>&1) && [[ $out == *"probe ok"* ]]; then pass probe; else fail "probe: $out"; fi

# 2. system programs, same output with and without the preload
ls -la /usr/bin /usr/lib > "$tmp/ls.want" 2>&1
run ls -la /usr/bin /usr/lib > "$tmp/ls.got" 2>&1
cmp -s "$tmp/ls.want" "$tmp/ls.got" && pass ls || fail "ls output differs"

awk 'BEGIN { srand(7); for (i = 0; i < 200000; i++) printf "%d %s\n", int(rand() * 1e6), substr("abcdefghijklmnop", 1 + int(rand() * 16)) }' > "$tmp/data"
sort -k2,2 -k1,1n "$tmp/data" > "$tmp/sort.want"
run sort -k2,2 -k1,1n "$tmp/data" > "$tmp/sort.got"
cmp -s "$tmp/sort.want" "$tmp/sort.got" && pass sort || fail "sort output differs"

if command -v python3 > /dev/null; then
  script='
import json, threading, hashlib
d = {str(i): [i] * (i % 17) for i in range(60000)}
s = json.dumps(d, sort_keys=True)
out = []
def work(k):
    x = [bytes(range(i % 256)) * (1 + i % 5) for i in range(20000)]
    out.append(hashlib.sha256(b"".join(x)).hexdigest())
ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
[t.start() for t in ts]; [t.join() for t in ts]
print(len(s), hashlib.sha256(s.encode()).hexdigest(), sorted(out)[0])
'
  python3 -c "$script" > "$tmp/py.want"
  run python3 -c "$script" > "$tmp/py.got" && cmp -s "$tmp/py.want" "$tmp/py.got" && pass python3 || fail "python3 output differs"
  run env POOLKIT_CHECK=1 python3 -c "$script" > "$tmp/py.chk" && cmp -s "$tmp/py.want" "$tmp/py.chk" &&
    pass "python3 under POOLKIT_CHECK=1" || fail "python3 under POOLKIT_CHECK=1"
fi

# 3. options
err=$(run env POOLKIT_STATS=1 "$PROBE" 2>&1 >/dev/null)
[[ $err == *"poolkit malloc statistics"* && $err == *"by size class"* ]] && pass "POOLKIT_STATS=1 summary" ||
  fail "no summary: $err"
err=$(run env POOLKIT_NO_SUCH_OPTION=1 "$PROBE" 2>&1 >/dev/null)
[[ $err == *"unknown option POOLKIT_NO_SUCH_OPTION"* ]] && pass "unknown option warning" || fail "no warning: $err"
[[ $err == *"(known: POOLKIT_STATS, POOLKIT_CHECK, POOLKIT_CHECK_ACTION, POOLKIT_QUARANTINE, POOLKIT_LEAKS, POOLKIT_STACK_DEPTH, POOLKIT_SAMPLE, POOLKIT_VERBOSE, POOLKIT_DECAY_MS, POOLKIT_MMAP_THRESHOLD, POOLKIT_REMOTE_CACHE)"* ]] &&
  pass "the warning lists the option table" || fail "known names not listed: $err"
err=$(run env POOLKIT_GUARD=none "$PROBE" 2>&1 >/dev/null)
[[ -z $err ]] && pass "the library's POOLKIT_GUARD is not an unknown option" || fail "POOLKIT_GUARD warned: $err"
err=$(run env POOLKIT_DECAY_MS=soon "$PROBE" 2>&1 >/dev/null)
[[ $err == *"POOLKIT_DECAY_MS=soon is not a number of milliseconds; keeping 50"* ]] &&
  pass "a decay that is no number is refused" || fail "bad decay: $err"
err=$(run env POOLKIT_MMAP_THRESHOLD=lots "$PROBE" 2>&1 >/dev/null)
[[ $err == *"POOLKIT_MMAP_THRESHOLD=lots is not a size; keeping 1048576"* ]] &&
  pass "a threshold that is no size is refused" || fail "bad threshold: $err"
err=$(run env POOLKIT_MMAP_THRESHOLD=16m "$PROBE" 2>&1 >/dev/null)
[[ $err == *"POOLKIT_MMAP_THRESHOLD=16m is outside 4 KiB..1 MiB; using 1048576"* ]] &&
  pass "a threshold out of range is clamped" || fail "threshold out of range: $err"
err=$(run env POOLKIT_REMOTE_CACHE=64m "$PROBE" 2>&1 >/dev/null)
[[ $err == *"POOLKIT_REMOTE_CACHE=64m is outside 0 B..16 MiB; using 16777216"* ]] &&
  pass "a remote cache out of range is clamped" || fail "remote cache out of range: $err"
err=$(run env POOLKIT_REMOTE_CACHE=0 POOLKIT_VERBOSE=1 "$PROBE" 2>&1 >/dev/null)
[[ $err == *"remote_cache=0"* ]] && pass "POOLKIT_REMOTE_CACHE=0 is in force" || fail "remote cache 0: $err"

# 4. bad input: the message, then SIGABRT (exit status 134)
expect_abort() {
  local what=$1 message=$2; shift 2
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  [[ $rc -eq 134 && $err == *"$message"* ]] && pass "$what" || fail "$what: rc=$rc: $err"
}
expect_abort "invalid pointer" "free(): invalid pointer" run "$PROBE" invalid
expect_abort "double free" "poolkit: ERROR: double-free at 0x" run env POOLKIT_CHECK=1 "$PROBE" double
expect_abort "overflow" "poolkit: ERROR: heap-buffer-overflow at 0x" run env POOLKIT_CHECK=1 "$PROBE" overflow
# The report's stacks are symbolised (libunwind, loaded only in checked mode).
expect_abort "overflow report names the allocating function" "in main " \
  run env POOLKIT_CHECK=1 "$PROBE" overflow

# 5. what the library brings: libc only (no libstdc++, libm, libgcc_s, libunwind), and
# the dynamic loader, mapped in every dynamic program anyway (it exports glibc's rseq
# area, __rseq_offset and __rseq_size, which detail::cpu_index reads).
needed=$(readelf -d "$LIB" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
[[ $needed == "ld-linux-x86-64.so.2 libc.so.6 " || $needed == "libc.so.6 " ]] &&
  pass "the library needs only libc (and the dynamic loader)" || fail "NEEDED: $needed"
maps=$(run "$PROBE" maps | tr '\n' ' ')
[[ $maps == *libpoolkit-malloc* && $maps != *libstdc++* && $maps != *libm.so* && $maps != *libunwind* &&
   $maps != *liblzma* && $maps != *libgcc_s* ]] && pass "a C program maps no C++ runtime and no libunwind" ||
  fail "a C program maps: $maps"
maps=$(run env POOLKIT_CHECK=1 "$PROBE" maps | tr '\n' ' ')
[[ $maps == *libunwind* && $maps != *libstdc++* ]] && pass "checked mode loads libunwind, still no C++ runtime" ||
  fail "a C program in checked mode maps: $maps"

# 6. operator new in a C++ program, throwing through the program's runtime
for mode in 0 1; do
  if out=$(run env POOLKIT_CHECK=$mode "$CXX_PROGRAM" 2>&1) && [[ $out == "cxx ok" ]]; then
    pass "C++ program, POOLKIT_CHECK=$mode: bad_alloc, new_handler, nothrow"
  else
    fail "C++ program, POOLKIT_CHECK=$mode: $out"
  fi
done

[ $failures -eq 0 ] && echo "preload: all passed" || echo "preload: $failures failed"
exit $((failures != 0))
