#!/usr/bin/env bash
# bench/small_rss.sh [--reps N] [--poolkit PATH] [--before PATH]
# What a small program pays for its malloc: runs sleep, true, gzip (a 1 MiB file)
# and a small C++ program (cmake -E echo) under glibc (no preload), jemalloc,
# tcmalloc, mimalloc and poolkit (LD_PRELOAD), interleaved, the order rotating with
# each repetition. Prints the median peak RSS (/usr/bin/time %M) of each, and for
# sleep the median RSS and anonymous memory in /proc/PID/smaps_rollup while it
# sleeps, each with its ratio to glibc (docs/malloc.md, "Small programs").
#   --reps N       repetitions (default 9)
#   --poolkit PATH libpoolkit-malloc.so (default: $PKTEST_MALLOC, else the release build's)
#   --before PATH  another libpoolkit-malloc.so (an earlier build), as "poolkit-before"
set -euo pipefail
cd "$(dirname "$0")/.."
reps=9 poolkit_lib=${PKTEST_MALLOC:-build/release/src/malloc/libpoolkit-malloc.so} before=""
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift ;;
    --poolkit) poolkit_lib=$2; shift ;;
    --before) before=$(realpath "$2"); shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "small_rss.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$poolkit_lib" ] || { echo "small_rss.sh: no $poolkit_lib (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "small_rss.sh: needs /usr/bin/time (Debian package 'time')" >&2; exit 2; }
source bench/peers.sh
declare -A LIB=([poolkit]=$(realpath "$poolkit_lib") [poolkit-before]=$before)
for peer in "${!PEER_LIB[@]}"; do LIB[$peer]=${PEER_LIB[$peer]}; done
allocators=()
for a in glibc jemalloc tcmalloc mimalloc $([ -n "$before" ] && echo poolkit-before) poolkit; do
  [ -z "${LIB[$a]}" ] || [ -f "${LIB[$a]}" ] && allocators+=("$a")
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 1048576 /dev/urandom | base64 > "$tmp/data"  # compressible text, ~1.4 MB
declare -A PROGRAM=([sleep]="sleep 0.05" [true]="true" [gzip]="gzip -c $tmp/data"
                    [cxx]="cmake -E echo small")
programs=(sleep true gzip cxx)

peak_kb() {  # peak_kb ALLOCATOR COMMAND...: its peak RSS in kB, measured as run.sh does
  local preload=(); [ -n "${LIB[$1]}" ] && preload=("LD_PRELOAD=${LIB[$1]}"); shift
  /usr/bin/time -f %M -o "$tmp/t" env "${preload[@]}" "$@" > /dev/null
  tail -1 "$tmp/t"
}
# kB of Rss and Anonymous in smaps_rollup of a sleep under ALLOCATOR
sleep_rollup() {
  local lib=${LIB[$1]} pid
  if [ -n "$lib" ]; then LD_PRELOAD="$lib" sleep 2 & else sleep 2 & fi
  pid=$!
  sleep 0.3
  awk '/^Rss:/ {r = $2} /^Anonymous:/ {a = $2} END {print r, a}' "/proc/$pid/smaps_rollup"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for ((rep = 0; rep < reps; rep++)); do
  n=${#allocators[@]}
  for ((i = 0; i < n; i++)); do
    a=${allocators[$(((i + rep) % n))]}
    for p in "${programs[@]}"; do
      # shellcheck disable=SC2086 # the command's words
      peak_kb "$a" ${PROGRAM[$p]} >> "$tmp/peak.$p.$a"
    done
    read -r rss anon < <(sleep_rollup "$a")
    echo "$rss" >> "$tmp/rss.$a"
    echo "$anon" >> "$tmp/anon.$a"
  done
done

row() {  # row LABEL FILE-PREFIX: median MiB and ratio to glibc per allocator
  local label=$1 prefix=$2 base line="| $1 |"
  base=$(median < "$prefix.glibc")
  for a in "${allocators[@]}"; do
    local m; m=$(median < "$prefix.$a")
    line+=$(awk -v m="$m" -v b="$base" 'BEGIN { printf " %.2f MiB (%.2f) |", m / 1024, m / b }')
  done
  echo "$line"
}
echo "$reps runs each, interleaved; medians, ratio to glibc"
header="| measure |" rule="| --- |"
for a in "${allocators[@]}"; do header+=" $a |"; rule+=" --- |"; done
echo "$header"; echo "$rule"
for p in "${programs[@]}"; do row "peak RSS, $p" "$tmp/peak.$p"; done
row "sleep: Rss (smaps_rollup)" "$tmp/rss"
row "sleep: Anonymous (smaps_rollup)" "$tmp/anon"
