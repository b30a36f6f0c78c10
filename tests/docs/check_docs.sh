#!/usr/bin/env bash
# check_docs.sh DOCS_DIR POOLKIT INCLUDE_DIR: the generated man pages and completion.
set -euo pipefail
docs=$1 poolkit=$2 include=$3
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
ok() { echo "ok   $*"; }

# roff source as plain words: escapes and font changes dropped.
plain() { sed -e 's/\\-/-/g; s/\\f[BIRP]//g; s/\\e/\\/g; s/\\&//g' "$1"; }

# 1. Every page renders without a warning (groff -ww, as lintian's check does).
if command -v groff >/dev/null; then
  for page in poolkit.1 poolkit-malloc.7 poolkit.3; do
    warnings=$(groff -man -ww -z -Tutf8 "$docs/$page" 2>&1 || true)
    [ -z "$warnings" ] && ok "$page renders cleanly" || fail "$page: $warnings"
  done
else
  echo "note groff is not installed: rendering not checked here (the packages lane's lintian checks it)"
fi

# 2. poolkit(1) has every synopsis and summary that poolkit --help prints.
"$poolkit" --help | sed -n 's/^  \([a-z]\)/\1/p' >"$docs/.help_synopses"
while IFS= read -r line; do
  grep -qF -- "$line" <(plain "$docs/poolkit.1") || fail "poolkit.1 lacks '$line' from --help"
done <"$docs/.help_synopses"
ok "poolkit.1 holds the $(wc -l <"$docs/.help_synopses") synopses of --help"

# 3. poolkit-malloc(7) documents every variable poolkit help malloc lists.
names=$("$poolkit" help malloc | grep -Eo '^  POOLKIT_[A-Z_]+' | tr -d ' ')
[ -n "$names" ] || fail "poolkit help malloc lists no variable"
for name in $names; do
  grep -q "^\\\\fB${name}\\\\fR=" "$docs/poolkit-malloc.7" || fail "poolkit-malloc.7 lacks $name"
done
ok "poolkit-malloc.7 documents $(echo $names | wc -w) variables"

# 4. Every function of the C headers is in its page.
check_functions() { # header page
  local n=0 f
  for f in $(grep -Eo 'poolkit_[a-z0-9_]+\(' "$include/$1" | tr -d '(' | sort -u); do
    grep -q "$f" "$docs/$2" || fail "$2 lacks $f"
    n=$((n + 1))
  done
  ok "$2 names all $n functions of $1"
}
check_functions poolkit.h poolkit.3
check_functions malloc.h poolkit-malloc.7

# 5. The completion is valid bash and, with bash-completion, completes.
bash -n "$docs/completion/poolkit" && ok "completion parses" || fail "completion: bash -n"
if [ -f /usr/share/bash-completion/bash_completion ]; then
  complete_words() { # the line as words; prints COMPREPLY
    bash -c 'source /usr/share/bash-completion/bash_completion; source "$1"; shift
      COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
      _poolkit; printf "%s\n" "${COMPREPLY[@]}"' _ "$docs/completion/poolkit" "$@"
  }
  expect() { # expected words...
    local got; got=$(complete_words "${@:2}" | sort | tr '\n' ' ')
    [ "$got" = "$1 " ] && ok "complete '${*:2}' -> $1" || fail "complete '${*:2}': got '$got', want '$1'"
  }
  expect "run" poolkit ru
  expect "--stats" poolkit run --st
  expect "--lib" poolkit run --stats --li
  expect "malloc" poolkit help ma
  expect "--help --version" poolkit --
  # PROGRAM completes as a command, and its arguments as that command's.
  # (The words are captured first: grep -q would end the pipe early, and pipefail fail it.)
  words=$(complete_words poolkit run --stats ech)
  grep -qx echo <<<"$words" && ok "complete 'poolkit run --stats ech' offers echo" ||
    fail "complete 'poolkit run --stats ech' does not offer echo: $words"
  words=$(complete_words poolkit run -- ls --all)
  grep -qx -- '--all' <<<"$words" && ok "complete 'poolkit run -- ls --all' as ls's own" ||
    fail "complete 'poolkit run -- ls --all' does not complete as ls: $words"
else
  echo "note bash-completion is not installed: completion behaviour not checked here (the packages lane installs it)"
fi
rm -f "$docs/.help_synopses"
[ $failures -eq 0 ]
