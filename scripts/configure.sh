#!/usr/bin/env bash
# Configures one CMake build directory: scripts/configure.sh DIR [cmake -D options...].
# The Makefile calls it after scripts/deps.sh, so the generator is decided when the build
# packages are really there, never when make parsed the Makefile. A directory already configured
# keeps the generator it was made with (CMake refuses to switch one), so a first `make run` on a
# machine without ninja (Unix Makefiles) and a later `make test` with ninja installed share
# build/ without error. A new directory gets Ninja when ninja is on PATH.
# The one thing to get right: never pass -G to a directory that has a CMakeCache.txt.
set -euo pipefail
dir=$1
shift
if [ -f "$dir/CMakeCache.txt" ]; then
  exec cmake -S . -B "$dir" "$@" >/dev/null
fi
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
exec cmake -S . -B "$dir" "${gen[@]}" "$@" >/dev/null
