#!/usr/bin/env bash
# integration.sh <bindir> [single|cluster|all]: runs the black-box suite (meshkv-tests) against
# real processes from <bindir>. `single`: one meshkv-node on a free port. `cluster`: three nodes
# meshed through the first one, behind meshkv-lb in static mode. ctest runs each mode as its own
# test (integration_single_node, integration_cluster); in an ASan build a sanitizer report makes
# a process exit non-zero, which fails the run. Every wait polls a condition with a deadline.
# Logs of the processes are printed when something fails; everything is stopped on exit.
# MESHKV_TESTS_ARGS adds arguments to meshkv-tests (e.g. "--gtest_shuffle --gtest_repeat=3").
set -uo pipefail

BIN=${1:?usage: integration.sh <bindir> [single|cluster|all]}
MODE=${2:-all}
BIN=$(cd "$BIN" && pwd)
HEADER_TIMEOUT_MS=300
export LOG_LEVEL=${LOG_LEVEL:-warn}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshkv-integration.XXXXXX")
pids=()

log() { echo "integration: $*" >&2; }

stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dump_logs() {
  local f
  for f in "$WORK"/*.log; do
    [ -s "$f" ] || continue
    echo "----- $(basename "$f") (last 60 lines) -----" >&2
    tail -n 60 "$f" >&2
  done
}

# until_ok SECONDS CMD...: runs CMD every 20 ms until it succeeds; fails after the deadline.
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.02
  done
}

file_has_port() { [ -s "$1" ] && grep -qE '^[0-9]+' "$1"; }
healthy() { curl -fsS -m 1 "http://127.0.0.1:$1/healthcheck" >/dev/null 2>&1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# stop_checked PID NAME: SIGTERM, then wait_checked.
stop_checked() {
  kill -TERM "$1" 2>/dev/null || true
  wait_checked "$1" "$2"
}

# wait_checked PID NAME: wait (no second signal: it would cut a graceful leave short) and fail
# if the process exited non-zero.
wait_checked() {
  local pid=$1 name=$2 rc
  wait "$pid"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    log "$name exited with status $rc after SIGTERM"
    return 1
  fi
}

# alive_members PORT: how many members /status on PORT lists as alive.
alive_members() {
  curl -fsS -m 1 "http://127.0.0.1:$1/status" 2>/dev/null |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for m in d.get("members",[]) if m.get("state")=="alive"))' 2>/dev/null ||
    echo 0
}
all_meshed() {
  local p
  for p in "$@"; do [ "$(alive_members "$p")" -eq $# ] || return 1; done
}

run_suite() {
  local url=$1 name=$2
  log "$name: meshkv-tests against $url"
  SERVICE_URL=$url MESHKV_TEST_HEADER_TIMEOUT_MS=$HEADER_TIMEOUT_MS \
    "$BIN/meshkv-tests" --gtest_brief=1 ${MESHKV_TESTS_ARGS:-}

}

single() {
  local portfile=$WORK/node.port pid port status=0
  "$BIN/meshkv-node" --port 0 --port-file "$portfile" --header-timeout-ms "$HEADER_TIMEOUT_MS" \
    --hostname single --data-dir "$WORK/data-single" >"$WORK/node.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  if ! until_ok 20 file_has_port "$portfile"; then
    log "single: the node wrote no port file"
    dump_logs
    return 1
  fi
  port=$(head -n1 "$portfile")
  if ! until_ok 20 healthy "$port"; then
    log "single: /healthcheck on $port never answered 200"
    dump_logs
    return 1
  fi
  run_suite "http://127.0.0.1:$port" single || status=1
  stop_checked "$pid" meshkv-node || status=1
  pids=()
  [ "$status" -eq 0 ] || dump_logs
  return "$status"
}

cluster() {
  local ports=() backends=() i port first pid lbpid lbport status=0 nodepids=()
  for i in 1 2 3; do ports+=("$(free_port)"); done
  first=${ports[0]}
  for i in 0 1 2; do
    port=${ports[$i]}
    backends+=("127.0.0.1:$port")
    MESH_NETWORK_URL=http://127.0.0.1:$first ADVERTISE_URL=http://127.0.0.1:$port \
      "$BIN/meshkv-node" --port "$port" --hostname "node$((i + 1))" \
      --data-dir "$WORK/data$((i + 1))" --header-timeout-ms "$HEADER_TIMEOUT_MS" >"$WORK/node$((i + 1)).log" 2>&1 &
    pid=$!
    pids+=("$pid")
    nodepids+=("$pid")
  done
  for port in "${ports[@]}"; do
    if ! until_ok 30 healthy "$port"; then
      log "cluster: node on $port never became healthy"
      dump_logs
      return 1
    fi
  done
  if ! until_ok 30 all_meshed "${ports[@]}"; then
    log "cluster: the nodes never all saw 3 alive members"
    dump_logs
    return 1
  fi
  SERVICE_PORT=0 BACKENDS=$(IFS=,; echo "${backends[*]}") \
    "$BIN/meshkv-lb" --port-file "$WORK/lb.port" >"$WORK/lb.log" 2>&1 &
  lbpid=$!
  pids+=("$lbpid")
  if ! until_ok 20 file_has_port "$WORK/lb.port"; then
    log "cluster: meshkv-lb wrote no port file"
    dump_logs
    return 1
  fi
  lbport=$(head -n1 "$WORK/lb.port")
  if ! until_ok 20 healthy "$lbport"; then
    log "cluster: /healthcheck through the balancer never answered 200"
    dump_logs
    return 1
  fi
  run_suite "http://127.0.0.1:$lbport" cluster || status=1
  stop_checked "$lbpid" meshkv-lb || status=1
  for pid in "${nodepids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${nodepids[@]}"; do wait_checked "$pid" meshkv-node || status=1; done
  pids=()
  [ "$status" -eq 0 ] || dump_logs
  return "$status"
}

for tool in meshkv-node meshkv-tests; do
  [ -x "$BIN/$tool" ] || { log "missing $BIN/$tool"; exit 1; }
done
case "$MODE" in
  single) single ;;
  cluster)
    [ -x "$BIN/meshkv-lb" ] || { log "missing $BIN/meshkv-lb"; exit 1; }
    cluster
    ;;
  all) single && cluster ;;
  *)
    log "unknown mode '$MODE' (single, cluster, all)"
    exit 2
    ;;
esac
