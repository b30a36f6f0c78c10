#!/usr/bin/env bash
# abi_check_test.sh ABI_SH LIBRARY HEADER SYMBOLS CC: scripts/abi.sh check must pass
# on the true list and fail, naming the line, on each kind of tampered list.
set -euo pipefail
abi=$1 lib=$2 header=$3 list=$4 cc=$5
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$abi" check "$lib" "$header" "$list" "$cc" >/dev/null

# expect_failure NAME SED_EXPR WORD: the list edited by SED_EXPR fails, naming WORD.
expect_failure() {
  local name=$1 edit=$2 word=$3
  sed -E "$edit" "$list" >"$scratch/$name.symbols"
  if "$abi" check "$lib" "$header" "$scratch/$name.symbols" "$cc" >"$scratch/$name.out" 2>&1; then
    echo "FAIL $name: the check passed"; exit 1
  fi
  grep -q -- "$word" "$scratch/$name.out" || { echo "FAIL $name: '$word' not named"; cat "$scratch/$name.out"; exit 1; }
  echo "ok   $name"
}
first_symbol=$(grep -m1 '^symbol ' "$list" | cut -d' ' -f2)
first_proto_name=$(grep -m1 '^proto ' "$list" | grep -Eo 'poolkit_[a-z0-9_]+\(' | tr -d '(')
first_layout=$(grep -m1 '^layout ' "$list" | cut -d' ' -f2)
expect_failure gone_symbol "s/^symbol ${first_symbol}\$/symbol ${first_symbol}_gone/" "${first_symbol}_gone"
expect_failure changed_prototype "/^proto .*${first_proto_name}\\(/s/\\(.*\\);/(double removed_argument_type);/" "$first_proto_name"
expect_failure changed_layout "s/^layout ${first_layout} [0-9]+/layout ${first_layout} 1/" "layout ${first_layout} 1"
expect_failure unrecorded_export "/^symbol ${first_symbol}\$/d" "$first_symbol"
