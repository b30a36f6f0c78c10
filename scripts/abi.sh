#!/usr/bin/env bash
# scripts/abi.sh check|update LIBRARY HEADER SYMBOLS [CC]: the exported ABI of a
# shared library against the list kept in the tree (abi/<lib>.symbols).
#
# The list has three kinds of lines:
#   symbol NAME[@VERSION]   every dynamic symbol the library defines (nm -D)
#   proto  DECLARATION;     the C prototype of each function HEADER declares
#   layout STRUCT SIZE ALIGN  sizeof and alignof of each struct HEADER defines
# check fails when a recorded symbol is gone, a recorded prototype no longer
# compiles against HEADER (its type changed), a layout differs, or the library
# exports something not recorded. update rewrites the list from the build: do it
# when the API grows, and raise POOLKIT_ABI_VERSION (CMakeLists.txt) when a
# recorded line had to go or change.
set -euo pipefail

usage() { echo "usage: scripts/abi.sh check|update LIBRARY HEADER SYMBOLS [CC]" >&2; exit 2; }
[ $# -ge 4 ] || usage
mode=$1 lib=$2 header=$3 list=$4 cc=${5:-cc}
case $mode in check|update) ;; *) usage ;; esac
[ -f "$lib" ] || { echo "abi.sh: no library '$lib': build it first" >&2; exit 2; }
[ -f "$header" ] || { echo "abi.sh: no header '$header'" >&2; exit 2; }
include_dir=$(cd "$(dirname "$header")/.." && pwd)
include_name=$(basename "$(dirname "$header")")/$(basename "$header")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# --- what the build has -------------------------------------------------------
# Dynamic symbols the library defines, with their version node (none for the malloc).
nm -D --defined-only --with-symbol-versions "$lib" | awk '$2 != "A" { print "symbol " $3 }' |
  sed 's/@@/@/' | LC_ALL=C sort >"$scratch/symbols"
# One prototype per line in the header (its style): return type, name, arguments.
grep -E '^[A-Za-z_][A-Za-z0-9_ *]*[ *]poolkit_[a-z0-9_]+\(.*\)[A-Z_ ]*;' "$header" |
  sed -E 's/[[:space:]]+/ /g; s/^/proto /' | LC_ALL=C sort >"$scratch/protos"
# sizeof and alignof of every struct the header defines, measured by the compiler.
structs=$(grep -Eo '^typedef struct [a-z_0-9]+ \{' "$header" | awk '{print $3}' || true)
{
  echo "#include <stdio.h>"
  echo "#include <$include_name>"
  echo "int main(void) {"
  for s in $structs; do
    echo "  printf(\"layout $s %zu %zu\\n\", sizeof(struct $s), _Alignof(struct $s));"
  done
  echo "  return 0;"
  echo "}"
} >"$scratch/layout.c"
"$cc" -std=c11 -I"$include_dir" "$scratch/layout.c" -o "$scratch/layout"
"$scratch/layout" | LC_ALL=C sort >"$scratch/layouts"
cat "$scratch/symbols" "$scratch/protos" "$scratch/layouts" >"$scratch/now"

if [ "$mode" = update ]; then
  {
    echo "# $(basename "$list"): the exported ABI of $(basename "$lib" | sed -E 's/\.so\..*/.so/') ($include_name)."
    echo "# Checked by the test abi_symbols; rewritten by scripts/abi.sh update (see there)."
    cat "$scratch/now"
  } >"$list"
  echo "abi.sh: wrote $list ($(grep -c '^symbol' "$list") symbols, $(grep -c '^proto' "$list") prototypes, $(grep -c '^layout' "$list") layouts)"
  exit 0
fi

# --- check ----------------------------------------------------------------------
[ -f "$list" ] || { echo "abi.sh: no list '$list': create it with scripts/abi.sh update" >&2; exit 2; }
grep -v '^#' "$list" | LC_ALL=C sort >"$scratch/recorded"
failed=0
report() { # report TITLE FILE: prints the lines of FILE under TITLE, if any
  if [ -s "$2" ]; then
    echo "abi.sh: $(basename "$lib"): $1:"
    sed 's/^/  /' "$2"
    failed=1
  fi
}
# Symbols and layouts compare exactly.
sorted_lines() { grep -E "^($1) " "$2" | LC_ALL=C sort || true; }
LC_ALL=C comm -23 <(sorted_lines 'symbol|layout' "$scratch/recorded") <(sorted_lines 'symbol|layout' "$scratch/now") >"$scratch/gone"
report "recorded symbols or struct layouts that are gone or changed (an incompatible ABI change: raise POOLKIT_ABI_VERSION, then scripts/abi.sh update)" "$scratch/gone"
# A recorded prototype must still agree with the header's declaration: C refuses
# to compile a redeclaration with another type, and names the function.
grep '^proto ' "$scratch/recorded" | sed 's/^proto //' >"$scratch/recorded_protos.h" || true
printf '#include <%s>\n#include "%s"\n' "$include_name" "$scratch/recorded_protos.h" >"$scratch/protos.c"
if ! "$cc" -std=c11 -fsyntax-only -I"$include_dir" "$scratch/protos.c" 2>"$scratch/proto_errors"; then
  grep -E 'error' "$scratch/proto_errors" >"$scratch/proto_errors_short" || cp "$scratch/proto_errors" "$scratch/proto_errors_short"
  report "recorded prototypes whose type changed (an incompatible ABI change: raise POOLKIT_ABI_VERSION, then scripts/abi.sh update)" "$scratch/proto_errors_short"
fi
# Functions the header declares but the list does not name, and exports not recorded.
grep -Eo 'poolkit_[a-z0-9_]+\(' "$scratch/recorded_protos.h" | LC_ALL=C sort -u >"$scratch/recorded_names" || true
grep -Eo 'poolkit_[a-z0-9_]+\(' "$scratch/protos" | LC_ALL=C sort -u >"$scratch/header_names" || true
{
  LC_ALL=C comm -13 <(sorted_lines symbol "$scratch/recorded") "$scratch/symbols"
  LC_ALL=C comm -13 <(sorted_lines layout "$scratch/recorded") "$scratch/layouts"
  LC_ALL=C comm -13 "$scratch/recorded_names" "$scratch/header_names" | sed 's/($//; s/^/proto /'
} >"$scratch/new"
report "exports not recorded yet (record them: scripts/abi.sh update $lib $header $list)" "$scratch/new"
if [ $failed -eq 0 ]; then
  echo "abi.sh: $(basename "$lib"): $(grep -c '^symbol' "$scratch/recorded") symbols, $(grep -c '^proto' "$scratch/recorded") prototypes, $(grep -c '^layout' "$scratch/recorded") layouts as recorded"
fi
exit $failed
