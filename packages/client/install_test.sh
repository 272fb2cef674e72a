#!/usr/bin/env bash
# client_install: the library as a user gets it. `cmake --install` (component meshkv_dev) into a
# temporary prefix, then docs/examples/client is configured and built against that prefix with
# find_package(meshkv), and compiled a second time with pkg-config alone; both programs run
# against a node started here and must store and read a value.
# Usage: install_test.sh <build dir> <example dir>
set -uo pipefail
BUILD=$(cd "${1:?build dir}" && pwd)
EXAMPLE=$(cd "${2:?example dir}" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshkv-install.XXXXXX")
pid=""
cleanup() {
  [ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -s "$WORK/node.log" ] && tail -n 20 "$WORK/node.log" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$WORK/prefix" --component meshkv_dev >"$WORK/install.log" ||
  fail "install: $(cat "$WORK/install.log")"
for f in include/meshkv/client.h include/common/core/result.h; do
  [ -f "$WORK/prefix/$f" ] || fail "$f was not installed"
done
ls "$WORK"/prefix/lib*/libmeshkv_client.a "$WORK"/prefix/lib*/cmake/meshkv/meshkvConfig.cmake \
  "$WORK"/prefix/lib*/pkgconfig/meshkv.pc >/dev/null || fail "library, config or .pc missing"

# find_package(meshkv): the documented way.
cmake -S "$EXAMPLE" -B "$WORK/ex" -DCMAKE_PREFIX_PATH="$WORK/prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$WORK/configure.log" 2>&1 || fail "configure: $(cat "$WORK/configure.log")"
cmake --build "$WORK/ex" >"$WORK/build.log" 2>&1 || fail "build: $(cat "$WORK/build.log")"

# pkg-config: the same program with one compiler line.
export PKG_CONFIG_PATH=$(dirname "$(ls -d "$WORK"/prefix/lib*/pkgconfig/meshkv.pc)")
# shellcheck disable=SC2046
g++ -std=c++20 -o "$WORK/ex-pc" "$EXAMPLE/main.cc" $(pkg-config --cflags --libs meshkv) \
  2>"$WORK/pc.log" || fail "pkg-config build: $(cat "$WORK/pc.log")"

PORT=0 HOSTNAME=install-test LOG_LEVEL=warn MEMORY=1 "$BUILD/bin/meshkv-node" --port-file "$WORK/port" \
  >"$WORK/node.log" 2>&1 &
pid=$!
for _ in $(seq 1 1500); do [ -s "$WORK/port" ] && break; sleep 0.02; done
[ -s "$WORK/port" ] || fail "the node did not start"
url="http://127.0.0.1:$(cat "$WORK/port")"
for prog in "$WORK/ex/meshkv-example" "$WORK/ex-pc"; do
  out=$("$prog" "$url") || fail "$prog failed: $out"
  grep -q "^example = hello from the client library$" <<<"$out" || fail "$prog printed: $out"
  grep -q "^missing: MISSING_RECORD$" <<<"$out" || fail "$prog printed: $out"
done
echo "client_install: ok (find_package and pkg-config)"
