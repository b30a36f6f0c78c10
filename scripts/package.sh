#!/usr/bin/env bash
# scripts/package.sh: poolkit's Debian packages, built from this tree with debhelper
# (debian/), written to dist/: libpoolkit0, libpoolkit-malloc0, libpoolkit-dev,
# poolkit-tools (and their -dbgsym debug symbols). Then lintian checks them and
# the script fails on any lintian error; warnings are printed.
#
# The build runs in a copy of the tree under build/package/ (dpkg-buildpackage
# writes its results next to the source directory, and must not touch this tree).
# PKTEST_JOBS sets the build's parallelism (default: the number of CPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build package

version=$(sed -n 's/^project(poolkit VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
changelog_version=$(dpkg-parsechangelog -S Version)
if [ "$version" != "$changelog_version" ]; then
  echo "package.sh: CMakeLists.txt says version $version but debian/changelog says $changelog_version;" >&2
  echo "  add a debian/changelog entry for $version (dch -v $version, or by hand)" >&2
  exit 1
fi

work=build/package
rm -rf "$work"
mkdir -p "$work/poolkit-$version"
# The sources: what git knows (tracked, and new files not ignored), or, outside a
# git checkout, everything but the build outputs.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$work/poolkit-$version"
else
  tar --exclude=./build --exclude=./dist --exclude=./report -cf - . | tar -xf - -C "$work/poolkit-$version"
fi

echo "package.sh: building poolkit $version"
(
  cd "$work/poolkit-$version"
  DEB_BUILD_OPTIONS="nocheck parallel=${PKTEST_JOBS:-$(nproc)}" dpkg-buildpackage -b -uc -us
) >"$work/build.log" 2>&1 || { tail -60 "$work/build.log"; echo "package.sh: dpkg-buildpackage failed; the whole log: $work/build.log" >&2; exit 1; }

rm -rf dist
mkdir -p dist
mv "$work"/*.deb dist/
for deb in dist/*.deb; do
  dpkg-deb --field "$deb" Package Version Depends | tr '\n' ' ' | sed 's/ *$/\n/'
done

echo "package.sh: lintian"
# --fail-on error: an error fails the script; warnings and info are shown, not fatal.
rc=0
lintian --fail-on error --info --display-level '>=warning' dist/*.deb >"$work/lintian.txt" 2>&1 || rc=$?
grep -v '^N: ' "$work/lintian.txt" || true
echo "package.sh: lintian: $(grep -c '^E: ' "$work/lintian.txt" || true) errors, $(grep -c '^W: ' "$work/lintian.txt" || true) warnings"
if [ $rc -ne 0 ]; then
  echo "package.sh: lintian failed (exit $rc): fix the errors above" >&2
  exit 1
fi
echo "package.sh: dist/ holds $(ls dist/*.deb | wc -l) packages"
