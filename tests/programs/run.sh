#!/usr/bin/env bash
# tests/programs/run.sh [--lib PATH] [--only "step ..."] [--keep]
# Real programs, same output: runs each program twice, once on glibc's malloc and
# once with libpoolkit-malloc.so preloaded (into the program and every child it
# starts), and compares what they print. Each step prints PASS or FAIL with both
# times; the script exits non-zero if any step failed. Steps:
#   python-regrtest python3 -m test on test_dict test_list test_json test_re test_threading
#   python-heavy    tests/programs/heavy.py (dicts, lists, json, re, threads)
#   sqlite3         generated SQL: 300,000 rows, indexes, joins, aggregates, windows
#   sort            a 50 MB generated file, three ways
#   gzip            compress and decompress the same file
#   git             init, add, commit, gc and fsck of a tree of ~3,000 files
#   g++             compile and run a large generated C++ file
#   cmake           configure and build poolkit itself (library, CLI, malloc)
#   redis           redis-server on 127.0.0.1 at a random high port: scripted
#                   commands, then a bounded redis-benchmark run
#   --lib PATH  the malloc to preload (default $PKTEST_MALLOC, else built here
#               with the release preset; skipped with a note if this tree has none)
#   --only      run only these steps      --keep  keep the scratch directory
# Python runs with PYTHONMALLOC=malloc in both runs, so its objects reach malloc.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

lib=${PKTEST_MALLOC:-} only="" keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --lib) lib=$2; shift ;;
    --only) only=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "$lib" ]; then
  if [ ! -f src/malloc/CMakeLists.txt ]; then
    echo "programs: SKIPPED: this tree has no src/malloc yet (pass --lib PATH to test another malloc)"
    exit 0
  fi
  echo "programs: building libpoolkit-malloc.so (release preset)"
  cmake --preset release >/dev/null &&
    cmake --build --preset release --target poolkit-malloc -j "${PKTEST_JOBS:-2}" >/dev/null || exit 1
  lib=$ROOT/build/release/src/malloc/libpoolkit-malloc.so
fi
[ -f "$lib" ] || { echo "run.sh: no library at '$lib'" >&2; exit 2; }
lib=$(realpath "$lib")

WORK=$(mktemp -d /tmp/poolkit-programs.XXXXXX)
IN=$WORK/inputs
mkdir -p "$IN"
cleanup() { [ $keep = 1 ] && echo "programs: scratch kept in $WORK" || rm -rf "$WORK"; }
trap cleanup EXIT
echo "programs: preloading $lib; scratch in $WORK"

declare -a SUMMARY=()
failures=0

# step NAME SCRIPT: runs SCRIPT with bash in a fresh directory, plain and then with
# the preload, and passes when both exit 0 and print the same standard output.
step() {
  local name=$1 script=$2
  [ -z "$only" ] || [[ " $only " == *" $name "* ]] || return 0
  local times=() statuses=() mode
  for mode in plain preload; do
    local dir=$WORK/$name/$mode start rc=0
    mkdir -p "$dir"
    start=$EPOCHREALTIME
    if [ $mode = plain ]; then
      (cd "$dir" && exec bash -c "set -euo pipefail; $script") >"$dir/out" 2>"$dir/err" || rc=$?
    else
      (cd "$dir" && LD_PRELOAD=$lib exec bash -c "set -euo pipefail; $script") >"$dir/out" 2>"$dir/err" || rc=$?
    fi
    times+=("$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')")
    statuses+=("$rc")
  done
  local verdict=PASS why=""
  if [ "${statuses[0]}" != 0 ]; then
    verdict=FAIL why="fails without the preload too (exit ${statuses[0]})"
  elif [ "${statuses[1]}" != 0 ]; then
    verdict=FAIL why="exit ${statuses[1]} with the preload"
  elif ! cmp -s "$WORK/$name/plain/out" "$WORK/$name/preload/out"; then
    verdict=FAIL why="output differs"
  elif [ ! -s "$WORK/$name/plain/out" ]; then
    verdict=FAIL why="printed nothing to compare"
  fi
  local line
  line=$(printf '%-4s %-16s plain %7.1f s   preloaded %7.1f s  %s' "$verdict" "$name" "${times[0]}" "${times[1]}" "$why")
  echo "$line"
  SUMMARY+=("$line")
  if [ $verdict = FAIL ]; then
    failures=$((failures + 1))
    diff "$WORK/$name/plain/out" "$WORK/$name/preload/out" | head -10
    local which=preload
    [ "${statuses[0]}" != 0 ] && which=plain
    echo "--- stderr of the $which run (tail):"
    tail -15 "$WORK/$name/$which/err"
  fi
}

have() { command -v "$1" >/dev/null 2>&1; }
skip() { echo "SKIP $1: $2"; SUMMARY+=("SKIP $1: $2"); }

# --- python3 --------------------------------------------------------------------
PY=/usr/bin/python3
if [ -x $PY ] && $PY -c 'import test.test_dict, test.test_threading' 2>/dev/null; then
  # The verbose list of test cases and their results, sorted; timings left out.
  step python-regrtest "PYTHONMALLOC=malloc $PY -m test -v test_dict test_list test_json test_re test_threading 2>&1 |
    tee regrtest.log | grep -E ' \.\.\. (ok|skipped|FAIL|ERROR|expected failure|unexpected success)' | sort"
else
  skip python-regrtest "python3's test package is not installed (Debian: libpython3.11-testsuite)"
fi
if [ -x $PY ]; then
  step python-heavy "PYTHONMALLOC=malloc $PY '$ROOT/tests/programs/heavy.py' 2"
else
  skip python-heavy "no /usr/bin/python3"
fi

# --- sqlite3 --------------------------------------------------------------------
if have sqlite3; then
  awk -v customers=50000 -v orders=300000 -f "$ROOT/tests/programs/gen_sql.awk" >"$IN/script.sql"
  step sqlite3 "sqlite3 :memory: <'$IN/script.sql'"
else
  skip sqlite3 "no sqlite3"
fi

# --- sort and gzip on a 50 MB file -------------------------------------------------
awk 'BEGIN { srand(7); w = "alpha beta gamma delta epsilon zeta eta theta iota kappa"; n = split(w, words, " ");
  while (bytes < 50 * 1024 * 1024) { line = sprintf("%08x %d %s %s", int(rand() * 4294967296), int(rand() * 1000000),
    words[int(rand() * n) + 1], words[int(rand() * n) + 1]); print line; bytes += length(line) + 1 } }' >"$IN/lines.txt"
step sort "export LC_ALL=C
  sort -S 16M --parallel=2 -T . '$IN/lines.txt' | sha256sum
  sort -S 16M -T . -s -k2,2n '$IN/lines.txt' | sha256sum
  sort -u -k3,4 '$IN/lines.txt' | sha256sum"
step gzip "gzip -n -6 -c '$IN/lines.txt' >lines.gz; sha256sum <lines.gz
  gzip -dc lines.gz | sha256sum; gzip -t lines.gz; gzip -n -1 -c '$IN/lines.txt' | gzip -dc | cmp - '$IN/lines.txt'"

# --- git ------------------------------------------------------------------------
if have git; then
  # The tree: poolkit's own sources plus 3,000 generated files in 30 directories.
  mkdir -p "$IN/tree"
  git -C "$ROOT" archive HEAD | tar -x -C "$IN/tree"
  awk -v root="$IN/tree/generated" 'BEGIN { srand(3); for (d = 0; d < 30; d++) { system("mkdir -p " root "/d" d);
    for (f = 0; f < 100; f++) { file = root "/d" d "/f" f ".txt"; n = int(rand() * 200) + 1;
      for (l = 0; l < n; l++) print "line", l, int(rand() * 1000000) > file; close(file) } } }'
  step git "export HOME=\$PWD GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=poolkit GIT_AUTHOR_EMAIL=p@example.org
    export GIT_COMMITTER_NAME=poolkit GIT_COMMITTER_EMAIL=p@example.org
    export GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z
    git init -q -b main repo && cp -r '$IN/tree/.' repo/ && cd repo
    git add -A && git commit -q -m 'the tree' && git rev-parse HEAD
    git rm -q -r generated/d7 && sed -i 's/line 1 /LINE 1 /' generated/d*/f1*.txt
    git add -A && git commit -q -m 'a change' && git rev-parse HEAD
    git log --stat | sha256sum; git diff --stat HEAD~1 | tail -1
    git gc -q && git fsck --full --no-progress && git count-objects -v | grep -E '^(count|in-pack|packs)'"
else
  skip git "no git"
fi

# --- g++ ------------------------------------------------------------------------
if have g++; then
  awk -v classes=200 -f "$ROOT/tests/programs/gen_cpp.awk" >"$IN/big.cpp"
  step g++ "g++ -std=c++20 -O1 -frandom-seed=poolkit -c '$IN/big.cpp' -o big.o && sha256sum <big.o
    g++ big.o -o big && ./big"
else
  skip g++ "no g++"
fi

# --- cmake: poolkit builds itself ---------------------------------------------------
if have cmake; then
  mkdir -p "$IN/poolkit"
  git -C "$ROOT" archive HEAD | tar -x -C "$IN/poolkit"
  # Both runs build in the same directory (the CLI embeds its build tree's path).
  step cmake "build='$WORK/cmake-build'; rm -rf \"\$build\"
    cmake -S '$IN/poolkit' -B \"\$build\" -DCMAKE_BUILD_TYPE=Release -DPOOLKIT_BUILD_TESTS=OFF >/dev/null
    targets='poolkit poolkit_cli'; [ -f '$IN/poolkit/src/malloc/CMakeLists.txt' ] && targets=\"\$targets poolkit-malloc\"
    cmake --build \"\$build\" -j 2 --target \$targets >/dev/null
    (cd \"\$build\" && find . -name '*.o' | sort | xargs sha256sum)
    \"\$build/tools/poolkit\" version"
else
  skip cmake "no cmake"
fi

# --- redis ----------------------------------------------------------------------
if have redis-server && have redis-cli && have redis-benchmark; then
  awk 'BEGIN { for (i = 0; i < 50000; i++) { printf "SET key:%d value-%d-%s\r\n", i, i * 7, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26);
    printf "RPUSH list:%d %d\r\n", i % 100, i; printf "SADD set:%d m%d\r\n", i % 50, i % 977;
    printf "ZADD zset %d z%d\r\n", (i * 7919) % 100003, i; printf "HSET hash:%d f%d %d\r\n", i % 200, i, i } }' >"$IN/redis-load.txt"
  # Picks a free port, starts the server, runs the script and stops that server by its PID.
  step redis "dir=\$PWD; pid=''
    trap '[ -n \"\$pid\" ] && kill \$pid 2>/dev/null && wait \$pid' EXIT
    for try in 1 2 3 4 5; do
      port=\$((20000 + RANDOM % 40000))
      (exec 3<>/dev/tcp/127.0.0.1/\$port) 2>/dev/null && continue
      redis-server --bind 127.0.0.1 --port \$port --save '' --appendonly no --dir \"\$dir\" --daemonize no >redis.log 2>&1 &
      pid=\$!
      for i in \$(seq 50); do redis-cli -p \$port ping >/dev/null 2>&1 && break; sleep 0.1; done
      redis-cli -p \$port ping >/dev/null 2>&1 && break
      kill \$pid 2>/dev/null; wait \$pid 2>/dev/null; pid=''
    done
    [ -n \"\$pid\" ]
    cli() { redis-cli -p \$port \"\$@\"; }
    cli --pipe <'$IN/redis-load.txt' | tail -1
    cli dbsize; cli get key:4242; cli llen list:7; cli lrange list:7 0 5; cli scard set:3
    cli zrange zset 0 9 withscores; cli zcount zset 1000 2000; cli hlen hash:5; cli hget hash:5 f405
    cli sinter set:1 set:2 | sort | sha256sum; cli sort list:9 limit 0 10 desc
    cli incrby counter 41; cli incr counter; cli append key:1 -tail; cli getrange key:1 0 -1
    timeout 120 redis-benchmark -p \$port -n 20000 -c 8 -P 8 -q -t set,get,incr,lpush,lpop,sadd,hset,zadd >bench.txt
    grep -c 'requests per second' bench.txt
    cli dbsize; cli llen mylist; cli get counter"
else
  skip redis "no redis-server, redis-cli or redis-benchmark"
fi

echo "=== programs against $(basename "$lib")"
for row in "${SUMMARY[@]}"; do echo "  $row"; done
[ $failures -eq 0 ] || { echo "programs: $failures step(s) FAILED"; exit 1; }
echo "programs: all steps passed"
