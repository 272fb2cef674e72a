#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets of fuzz/ with Debian's clang in build-fuzz/
# (-fsanitize=fuzzer,address,undefined) and runs each for FUZZ_SECONDS (default 60), starting
# from its committed seeds (fuzz/corpus/<t>/) and past crashes (fuzz/regressions/<t>/). New
# interesting inputs go to build-fuzz/corpus/<t>/ (not committed); a crash is written to
# fuzz/regressions/<t>/ (commit it once fixed: `make test` replays that folder) and the run
# fails. Prints each target's executions per second and coverage from libFuzzer's final stats.
# Usage: FUZZ_SECONDS=20 scripts/fuzz.sh [target...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
jobs="${JOBS:-$(nproc)}"
all=(http_request query_decode wire_frame digest docker_events lb_config log_record recovery record_rules
  node_config swarm_tasks rest_path)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

scripts/deps.sh fuzz
scripts/configure.sh build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMESHKV_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14
cmake --build build-fuzz -j "$jobs" --target "${targets[@]/%/_fuzz}"

failed=()
printf '\n%-14s %8s %10s %8s %8s %s\n' target seconds execs/s cov ft result
for t in "${targets[@]}"; do
  work="build-fuzz/corpus/$t"
  mkdir -p "$work" "fuzz/regressions/$t"
  log="build-fuzz/fuzz-$t.log"
  rc=0
  "build-fuzz/bin/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="fuzz/regressions/$t/" "$work" "fuzz/corpus/$t" "fuzz/regressions/$t" \
    >"$log" 2>&1 || rc=$?
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  if [ "$rc" -ne 0 ]; then
    result="CRASH (see $log)"
    failed+=("$t")
  fi
  printf '%-14s %8s %10s %8s %8s %s\n' "$t" "$seconds" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}; inputs saved under fuzz/regressions/ (fix, then commit)" >&2
  for t in "${failed[@]}"; do grep -m3 -E 'ERROR|property violated|SUMMARY' "build-fuzz/fuzz-$t.log" >&2 || true; done
  exit 1
fi
