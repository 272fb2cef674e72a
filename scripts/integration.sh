#!/usr/bin/env bash
# integration.sh <bindir> [single|cluster|all]: runs the black-box suite (meshkv-tests) against
# real processes from <bindir>. `single`: one meshkv-node started plainly. `cluster`: the README's
# way to make a cluster: node 1 started plainly (no MESH_NETWORK_URL), node 2 joining through
# node 1, node 3 through node 2 (a chain), behind meshkv-lb in static mode; after the suite,
# nodes are paused (SIGSTOP) to check that w=all and w=quorum wait for them (504 when they cannot
# be reached). Every program binds port 0 and reports its port in a --port-file (no port is
# picked beforehand, so nothing else can take it meanwhile). ctest runs each mode as its own
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
unset MESH_NETWORK_URL ADVERTISE_URL  # each node gets its own below
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshkv-integration.XXXXXX")
pids=()

log() { echo "integration: $*" >&2; }

stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -CONT "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null || true; done
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

# start_node NAME [JOIN_PORT]: a meshkv-node on port 0 that advertises 127.0.0.1 and the port it
# bound, joining through the node on JOIN_PORT when given (else it starts a cluster of its own).
# Waits for its port file; sets NODE_PID and NODE_PORT.
start_node() {
  local name=$1 join=${2:-} portfile=$WORK/$1.port
  rm -f "$portfile"
  env ${join:+MESH_NETWORK_URL=http://127.0.0.1:$join} ADVERTISE_URL=http://127.0.0.1:0 \
    "$BIN/meshkv-node" --port 0 --port-file "$portfile" --hostname "$name" \
    --data-dir "$WORK/data-$name" --header-timeout-ms "$HEADER_TIMEOUT_MS" >"$WORK/$name.log" 2>&1 &
  NODE_PID=$!
  pids+=("$NODE_PID")
  if ! until_ok 20 file_has_port "$portfile"; then
    log "$name wrote no port file"
    return 1
  fi
  NODE_PORT=$(head -n1 "$portfile")
}

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
  local pid port status=0
  start_node single || { dump_logs; return 1; }
  pid=$NODE_PID
  port=$NODE_PORT
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

# set_answer PORT QUERY: "<status> <body>" of /set?QUERY on the node on PORT.
set_answer() {
  curl -s -m 10 -o "$WORK/answer" -w '%{http_code}' "http://127.0.0.1:$1/set?$2"
  printf ' %s' "$(cat "$WORK/answer" 2>/dev/null)"
}

# write_concerns PORT1 PID2 PID3 PORTS...: w=all and w=quorum on node 1 must wait for the
# others. Node 3 paused: w=all answers 504 with acked 2, w=quorum 200. Node 2 paused too:
# w=quorum answers 504 with acked 1. (Both answers come after REPLICATION_TIMEOUT_MS, 2 s, well
# before a paused node is declared dead, 5 s of suspicion.) Then both resume and the three
# must see each other alive again.
write_concerns() {
  local p1=$1 pid2=$2 pid3=$3 out status=0
  shift 3
  kill -STOP "$pid3"
  out=$(set_answer "$p1" "k=wc&v=1&w=all")
  [[ $out == 504* && $out == *'"acked":2'* ]] ||
    { log "w=all with node 3 paused answered '$out' (expected 504, acked 2)"; status=1; }
  out=$(set_answer "$p1" "k=wc&v=2&w=quorum")
  [[ $out == 200* ]] || { log "w=quorum with node 3 paused answered '$out' (expected 200)"; status=1; }
  kill -STOP "$pid2"
  out=$(set_answer "$p1" "k=wc&v=3&w=quorum")
  [[ $out == 504* && $out == *'"acked":1'* ]] ||
    { log "w=quorum with nodes 2 and 3 paused answered '$out' (expected 504, acked 1)"; status=1; }
  kill -CONT "$pid2" "$pid3"
  if ! until_ok 30 all_meshed "$@"; then
    log "cluster: after the pause the nodes never all saw 3 alive members again"
    status=1
  fi
  [ "$status" -eq 0 ] && log "cluster: w=all and w=quorum wait for the paused nodes: ok"
  return "$status"
}

cluster() {
  local ports=() nodepids=() backends=() port pid lbpid lbport status=0
  # Node 1 plainly; node 2 joins through node 1; node 3 through node 2.
  start_node node1 || { dump_logs; return 1; }
  nodepids+=("$NODE_PID") ports+=("$NODE_PORT")
  start_node node2 "${ports[0]}" || { dump_logs; return 1; }
  nodepids+=("$NODE_PID") ports+=("$NODE_PORT")
  start_node node3 "${ports[1]}" || { dump_logs; return 1; }
  nodepids+=("$NODE_PID") ports+=("$NODE_PORT")
  for port in "${ports[@]}"; do
    backends+=("127.0.0.1:$port")
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
  write_concerns "${ports[0]}" "${nodepids[1]}" "${nodepids[2]}" "${ports[@]}" || status=1
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
