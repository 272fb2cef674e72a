#!/usr/bin/env bash
# Installs the Debian packages meshkv needs to build, test and benchmark, only those missing.
# Idempotent: a second run with everything present does nothing and asks no mirror.
# Usage: scripts/deps.sh [build|bench|fuzz|all]   (default: build = what `make test` needs;
#        fuzz = Debian's clang and libFuzzer for `make fuzz`)
set -euo pipefail

build_pkgs=(
  cmake make g++ pkg-config ninja-build
  libuv1-dev libcurl4-openssl-dev rapidjson-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libhttp-parser-dev libcli11-dev libabsl-dev
  prometheus-cpp-dev libxxhash-dev libssl-dev
  libedit-dev  # the meshkv shell: line editing, history, completion
  tmux         # cli_repl drives the shell in a real terminal
  clang-format iproute2 procps curl debootstrap
  busybox-static  # meshkv-lb Docker e2e: the FROM-scratch test backend image
  chromium        # lb_status_page: the status page in headless Chromium (screenshot + DOM)
)
bench_pkgs=(wrk nginx-light haproxy redis-server)
fuzz_pkgs=(clang-14 libclang-rt-14-dev)  # libclang_rt.fuzzer: -fsanitize=fuzzer

want=("${build_pkgs[@]}")
case "${1:-build}" in
  build) ;;
  bench) want+=("${bench_pkgs[@]}") ;;
  fuzz) want+=("${fuzz_pkgs[@]}") ;;
  all) want+=("${bench_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
  *) echo "usage: $0 [build|bench|fuzz|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#want[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The bench servers must not keep running as system services on the benchmark machine.
for svc in nginx haproxy redis-server; do
  if printf '%s\n' "${missing[@]}" | grep -qx "${svc}\|${svc}-light"; then
    (command -v systemctl >/dev/null && $SUDO systemctl stop "$svc" 2>/dev/null) || true
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
  fi
done
echo "deps: done"
