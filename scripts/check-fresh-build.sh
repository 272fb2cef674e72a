#!/usr/bin/env bash
# Reproduces a fresh machine's first two `make` commands (issue: the second one failed). The
# first runs with ninja hidden from PATH, as on a machine where scripts/deps.sh has not yet
# installed ninja-build; the second runs with ninja back on PATH, as after that install. Both
# must configure the same build directory without error, and the directory keeps the generator
# it was made with. A third, new directory configured with ninja present gets Ninja.
# Registered with ctest (CMakeLists.txt), so `make test` runs it. Configures only; builds nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v ninja >/dev/null || { echo "check-fresh-build: ninja must be installed to run this"; exit 1; }

# A PATH with every program of the usual directories except ninja.
mkdir "$tmp/bin"
for d in /usr/local/bin /usr/bin /bin; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    name=$(basename "$f")
    case "$name" in ninja | ninja-build) continue ;; esac
    [ -e "$tmp/bin/$name" ] || ln -s "$f" "$tmp/bin/$name"
  done
done
no_ninja="$tmp/bin:/usr/local/sbin:/usr/sbin:/sbin"
if PATH=$no_ninja command -v ninja >/dev/null; then echo "check-fresh-build: could not hide ninja"; exit 1; fi

generator() { sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$1/CMakeCache.txt"; }
fail() { echo "check-fresh-build: FAIL: $*"; exit 1; }

echo "1. make configure with ninja hidden (a fresh machine's first command)"
PATH=$no_ninja make -s -C "$root" configure BUILD_DIR="$tmp/build" || fail "first configure"
[ "$(generator "$tmp/build")" = "Unix Makefiles" ] || fail "expected Unix Makefiles, got $(generator "$tmp/build")"

echo "2. make configure again with ninja installed (the second command)"
make -s -C "$root" configure BUILD_DIR="$tmp/build" || fail "second configure of the same directory"
[ "$(generator "$tmp/build")" = "Unix Makefiles" ] || fail "the generator changed"

echo "3. a new build directory with ninja present gets Ninja"
make -s -C "$root" configure BUILD_DIR="$tmp/build2" || fail "configure with ninja"
[ "$(generator "$tmp/build2")" = "Ninja" ] || fail "expected Ninja, got $(generator "$tmp/build2")"
echo "check-fresh-build: ok"
