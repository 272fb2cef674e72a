#!/usr/bin/env bash
# Docker end-to-end tests (`make test` runs this after the release build in build/).
# Builds the images offline (scripts/images.sh), then runs packages/tests/e2e/e2e.py: the
# compose stack under a unique project name, every failure scenario, teardown whatever happens.
# Then the auto-scaling test (packages/tests/e2e/autoscale_e2e.py, its own project), the
# balancer's own Docker test (packages/load-balancer/e2e/lb_docker_e2e.sh) if present, then the
# Swarm stack's (packages/tests/e2e/swarm_e2e.py; E2E_SWARM=0 skips it; it creates and leaves a
# single-node swarm when none is active). E2E_ONLY may name `autoscale` and `swarm` beside
# e2e.py's scenarios.
# In CI (CI=true) a missing Docker engine is a failure; elsewhere it is a visible SKIP.
# Settings: E2E_ONLY (comma-separated scenarios), E2E_TIMEOUT (seconds, default 600), BIN,
# E2E_CHAOS_SECONDS (the chaos scenario's faults, default 75), E2E_CHAOS_SEED (replays one),
# E2E_STAGGERED=1 (diagnosis: start one node, then scale to 3, instead of `up` all at once),
# E2E_WRITE_CONCERN (w= on every stress write, e.g. quorum; default: the node's default),
# MESHKV_TAG (image tag built and run, default local: a private tag keeps two runs on one engine apart).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
E2E_TIMEOUT=${E2E_TIMEOUT:-600}
project="meshkv-e2e-$$"

engine=yes
command -v docker >/dev/null 2>&1 || engine=no
[ "$engine" = no ] || timeout 20 docker info >/dev/null 2>&1 || engine=no
if [ "$engine" = no ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "e2e: FAIL: no Docker engine reachable, and CI=true requires the end-to-end tests" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "SKIP: no Docker engine reachable (the end-to-end tests need one; they run in CI)"
  exit 0
fi
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  echo "e2e: FAIL: neither 'docker compose' nor 'docker-compose' is installed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

teardown() {
  # e2e.py tears down itself; this catches a driver killed by the timeout's SIGKILL.
  for p in "$project" "$project-echo" "$project-chaos" "$project-as"; do
    ids=$(docker ps -aq --filter "label=com.docker.compose.project=$p" 2>/dev/null || true)
    [ -z "$ids" ] || timeout 60 docker rm -f $ids >/dev/null 2>&1 || true
    for n in $(docker network ls -q --filter "label=com.docker.compose.project=$p" 2>/dev/null); do
      timeout 30 docker network rm "$n" >/dev/null 2>&1 || true
    done
  done
}
swarm_stack=""
swarm_teardown() {
  # swarm_e2e.py tears down itself; this catches a driver killed by the timeout's SIGKILL.
  [ -n "$swarm_stack" ] || return 0
  docker ps -aq --filter "label=meshkv.swarm-e2e=$swarm_stack" | xargs -r docker rm -f >/dev/null 2>&1 || true
  STACK="$swarm_stack" timeout 200 scripts/swarm.sh down >/dev/null 2>&1 || true
}
trap 'teardown; swarm_teardown' EXIT

start=$(date +%s)
BIN="$BIN" TAG="${MESHKV_TAG:-local}" timeout 300 scripts/images.sh
status=0
# E2E_ONLY may name `autoscale` (autoscale_e2e.py) beside e2e.py's scenarios.
core_only=$(echo ",${E2E_ONLY:-}," | sed 's/,autoscale,/,/g; s/,swarm,/,/g; s/^,*//; s/,*$//')
run_core=yes
run_autoscale=yes
run_swarm=yes
if [ -n "${E2E_ONLY:-}" ]; then
  [ -n "$core_only" ] || run_core=no
  [[ ",$E2E_ONLY," == *",autoscale,"* ]] || run_autoscale=no
  [[ ",$E2E_ONLY," == *",swarm,"* ]] || run_swarm=no
fi
[ "${E2E_SWARM:-1}" != 0 ] || run_swarm=no
if [ "$run_core" = yes ]; then
  timeout -k 30 "$E2E_TIMEOUT" python3 packages/tests/e2e/e2e.py --project "$project" \
    --stress "$BIN/meshkv-stress" ${core_only:+--only "$core_only"} \
    ${E2E_STAGGERED:+--staggered} || status=$?
  if [ "$status" -eq 124 ]; then
    echo "e2e: FAIL: the end-to-end tests exceeded ${E2E_TIMEOUT}s" >&2
  fi
fi
if [ "$run_autoscale" = yes ]; then
  timeout -k 30 480 python3 packages/tests/e2e/autoscale_e2e.py --project "$project-as" \
    --stress "$BIN/meshkv-stress" || status=1
fi

lb_e2e=packages/load-balancer/e2e/lb_docker_e2e.sh
if [ -x "$lb_e2e" ] && [ -z "${E2E_ONLY:-}" ]; then
  echo "e2e: running $lb_e2e"
  timeout -k 10 300 "$lb_e2e" || status=1
fi

if [ "$run_swarm" = yes ]; then
  echo "e2e: running the Swarm stack's e2e"
  swarm_stack="mkvswarm$$"
  swarm_status=0
  timeout -k 60 720 python3 packages/tests/e2e/swarm_e2e.py --stack "$swarm_stack" \
    --stress "$BIN/meshkv-stress" --tests "$BIN/meshkv-tests" || swarm_status=$?
  [ "$swarm_status" -ne 124 ] || echo "e2e: FAIL: the Swarm e2e exceeded 720s" >&2
  [ "$swarm_status" -eq 0 ] || status=1
fi
echo "e2e: done in $(( $(date +%s) - start ))s"
exit "$status"
