#!/usr/bin/env bash
# tests/packages/run.sh [DIST]: the packages of dist/ (scripts/package.sh) as a user
# gets them: unpacked into a scratch root (dpkg -x, no system install), then the C
# and C++ consumers (tests/install/consumer) built and run against that root only,
# the program and the malloc run from it, and the packages' metadata checked.
# Prints PASS or FAIL per check; exits non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
dist=${1:-dist}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
failed=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failed=1; }
check() { # check NAME COMMAND...: runs COMMAND, PASS or FAIL with its output
  local name=$1 out; shift
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name"; echo "$out" | sed 's/^/     /'; fi
}

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=$root/usr/lib/$multiarch
packages="libpoolkit0 libpoolkit-malloc0 libpoolkit-dev poolkit-tools"
for p in $packages; do
  deb=$(ls "$dist"/${p}_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then fail "package $p is in $dist"; continue; fi
  dpkg -x "$deb" "$root"
  pass "package $p unpacks"
done
# Nothing of poolkit may come from the system: the root is the only source.
if dpkg-query -W -f='${Status}' libpoolkit0 2>/dev/null | grep -q "ok installed"; then
  fail "libpoolkit0 is installed on this system; the test must use only the scratch root"
fi

# --- metadata -------------------------------------------------------------------
field() { dpkg-deb --field "$(ls "$dist"/${1}_*.deb)" "$2"; }
check "libpoolkit.so.0 has the soname libpoolkit.so.0" \
  bash -c "objdump -p '$libdir/libpoolkit.so.0' | grep -q 'SONAME *libpoolkit.so.0\$'"
check "libpoolkit-malloc.so.0 has the soname libpoolkit-malloc.so.0" \
  bash -c "objdump -p '$libdir/libpoolkit-malloc.so.0' | grep -q 'SONAME *libpoolkit-malloc.so.0\$'"
check "libpoolkit0 ships shlibs naming itself" \
  bash -c "dpkg-deb --ctrl-tarfile $(ls "$dist"/libpoolkit0_*.deb) | tar -xOf - ./shlibs | grep -q '^libpoolkit 0 libpoolkit0'"
check "libpoolkit-malloc0 ships shlibs naming itself" \
  bash -c "dpkg-deb --ctrl-tarfile $(ls "$dist"/libpoolkit-malloc0_*.deb) | tar -xOf - ./shlibs | grep -q '^libpoolkit-malloc 0 libpoolkit-malloc0'"
check "libpoolkit0 depends on libc (shlibdeps)" bash -c "[[ '$(field libpoolkit0 Depends)' == *libc6* ]]"
check "libpoolkit-dev depends on both libraries at the same version" \
  bash -c "[[ '$(field libpoolkit-dev Depends)' == *'libpoolkit0 (= '* && '$(field libpoolkit-dev Depends)' == *'libpoolkit-malloc0 (= '* ]]"
check "poolkit-tools depends on libpoolkit-malloc0" bash -c "[[ '$(field poolkit-tools Depends)' == *libpoolkit-malloc0* ]]"
for p in $packages; do
  check "$p has its copyright and changelog" test -f "$root/usr/share/doc/$p/copyright" -a -f "$root/usr/share/doc/$p/changelog.gz"
done
check "the man pages are installed" test -f "$root/usr/share/man/man1/poolkit.1.gz" -a \
  -f "$root/usr/share/man/man7/poolkit-malloc.7.gz" -a -f "$root/usr/share/man/man3/poolkit.3.gz"
check "the bash completion is installed" test -f "$root/usr/share/bash-completion/completions/poolkit"
check "libpoolkit.so exports exactly abi/libpoolkit.symbols" \
  scripts/abi.sh check "$libdir/libpoolkit.so.0" include/poolkit/poolkit.h abi/libpoolkit.symbols
check "libpoolkit-malloc.so exports exactly abi/libpoolkit-malloc.symbols" \
  scripts/abi.sh check "$libdir/libpoolkit-malloc.so.0" include/poolkit/malloc.h abi/libpoolkit-malloc.symbols

# debian/<lib>.symbols (dpkg-gensymbols' templates, with the version that brought
# each symbol) must name the very symbols that abi/ records.
same_symbols() { # debian_symbols abi_symbols
  diff <(sed -n 's/^ \([^ ]*\) .*/\1/p' "$1" | sed 's/@Base$//' | grep -v '^POOLKIT_[0-9]*@' | sort) \
       <(sed -n 's/^symbol //p' "$2" | sort)
}
check "debian/libpoolkit0.symbols names the symbols of abi/libpoolkit.symbols" \
  same_symbols debian/libpoolkit0.symbols abi/libpoolkit.symbols
check "debian/libpoolkit-malloc0.symbols names the symbols of abi/libpoolkit-malloc.symbols" \
  same_symbols debian/libpoolkit-malloc0.symbols abi/libpoolkit-malloc.symbols
check "libpoolkit0 ships a symbols file" \
  bash -c "dpkg-deb --ctrl-tarfile $(ls "$dist"/libpoolkit0_*.deb) | tar -xOf - ./symbols | grep -q poolkit_heap_alloc@POOLKIT_0"

# --- the consumers, against the root only -----------------------------------------
work=$root/work
mkdir -p "$work"
export LD_LIBRARY_PATH=$libdir
check "C++ consumer: configure with find_package(poolkit) from the root" \
  cmake -S tests/install/consumer -B "$work/cxx" -DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
check "C++ consumer: build" cmake --build "$work/cxx"
check "C++ consumer: run" "$work/cxx/consumer_cxx"
# poolkit.pc says prefix=/usr, as a packaged one does; the sysroot maps it into the root.
pc_flags=$(PKG_CONFIG_LIBDIR=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root pkg-config --cflags --libs poolkit || true)
check "poolkit.pc has prefix=/usr" grep -qx 'prefix=/usr' "$libdir/pkgconfig/poolkit.pc"
check "pkg-config finds poolkit.pc in the root" bash -c "[[ '$pc_flags' == *'-I$root/usr/include'* && '$pc_flags' == *'-L$libdir'* ]]"
# shellcheck disable=SC2086  # pc_flags is a list of words
check "C consumer: build with pkg-config" cc -std=c11 -Wall -Wextra -Wpedantic -Werror \
  tests/install/consumer/consumer.c -o "$work/consumer_c" $pc_flags
check "C consumer: links the root's shared libpoolkit.so.0" \
  bash -c "ldd '$work/consumer_c' | grep -q '$libdir/libpoolkit.so.0'"
check "C consumer: run" "$work/consumer_c"

# --- the program and the malloc from the root ------------------------------------
poolkit=$root/usr/bin/poolkit
check "poolkit --version" bash -c "'$poolkit' --version | grep -qx 'poolkit $(dpkg-deb --field "$(ls "$dist"/poolkit-tools_*.deb)" Version)'"
check "poolkit help malloc" bash -c "'$poolkit' help malloc | grep -q POOLKIT_MMAP_THRESHOLD"
check "poolkit run finds the root's malloc and keeps the output" \
  bash -c "out=\$('$poolkit' run --stats -- sh -c 'seq 1 1000 | sort -n | tail -1' 2>'$work/stats'); [ \"\$out\" = 1000 ] && grep -q 'poolkit run:' '$work/stats'"
check "LD_PRELOAD=libpoolkit-malloc.so.0 runs a program" \
  bash -c "[ \"\$(LD_PRELOAD='$libdir/libpoolkit-malloc.so.0' sh -c 'echo ok')\" = ok ]"
if command -v man >/dev/null; then
  check "man poolkit renders" bash -c "MANWIDTH=80 man -l '$root/usr/share/man/man1/poolkit.1.gz' | grep -q 'poolkit run'"
fi
exit $failed
