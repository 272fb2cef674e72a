#!/usr/bin/env bash
# meshkv-lb against the REAL Docker Engine: containers of a tiny FROM-scratch busybox httpd
# image (built here offline from Debian's busybox-static), labelled as a compose service, with
# the balancer on the host following them through /var/run/docker.sock. Checks: both containers
# routed; a new container routed (latency from its start to its first routed request); `docker
# stop` drains at once (latency from the kill to no new connections) and removes it at `die`;
# a balancer restart recovers the group from the listing alone; SIGTERM exits 0.
# Prints "lb-e2e: discovery ready->routed=<ms> kill->drained=<ms>" for the benchmark notes.
# Cleans up (trap) whatever happens. Exit 0 pass (or SKIP without an engine unless CI=true), 1 fail.
# Usage: packages/load-balancer/e2e/lb_docker_e2e.sh   (LB_BIN=path/to/meshkv-lb to override)
set -uo pipefail
cd "$(dirname "$0")/../../.."
LB_BIN=${LB_BIN:-${BIN:-build/bin}/meshkv-lb}
SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
IMAGE=meshkv-lbtest/busybox-httpd:local
ID=lbe2e$$
PROJECT=$ID
NET=${ID}_net
WORK=$(mktemp -d /tmp/meshkv-lb-e2e.XXXXXX)
LB_PID=""
failures=0

log() { echo "lb-e2e: $*"; }
fail() { echo "lb-e2e: FAIL: $*" >&2; failures=$((failures + 1)); }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- engine present? -------------------------------------------------------------------------
if ! command -v docker >/dev/null 2>&1 || ! timeout 10 curl -sf --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "lb-e2e: FAIL: no Docker engine reachable at $SOCK and CI=true" >&2
    exit 1
  fi
  echo "lb-e2e: SKIP: no Docker engine reachable at $SOCK (this test runs in CI)"
  exit 0
fi
if [ ! -x "$LB_BIN" ]; then
  echo "lb-e2e: FAIL: $LB_BIN not built (make build, or set LB_BIN)" >&2
  exit 1
fi
BUSYBOX=$(command -v busybox || true)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q "statically linked"; then
  [ -x /bin/busybox ] && BUSYBOX=/bin/busybox
fi
if [ -z "$BUSYBOX" ]; then
  echo "lb-e2e: FAIL: busybox-static is not installed (scripts/deps.sh installs it)" >&2
  exit 1
fi

cleanup() {
  [ -n "$LB_PID" ] && kill "$LB_PID" 2>/dev/null && wait "$LB_PID" 2>/dev/null
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null)
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  docker network rm "$NET" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# ---- the test image: busybox httpd answering its container's host name -----------------------
mkdir -p "$WORK/ctx"
cp "$BUSYBOX" "$WORK/ctx/busybox"
cat > "$WORK/ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENTRYPOINT ["/bin/sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
EOF
if ! docker build -q -t "$IMAGE" "$WORK/ctx" >"$WORK/build.log" 2>&1; then
  cat "$WORK/build.log" >&2
  echo "lb-e2e: FAIL: could not build the test image" >&2
  exit 1
fi
docker network create --label "com.docker.compose.project=$PROJECT" "$NET" >/dev/null || exit 1

run_web() {  # run_web NAME: one container of service "web" in our project
  docker run -d --name "${ID}_$1" --hostname "$1" --network "$NET" \
    --label "com.docker.compose.project=$PROJECT" --label com.docker.compose.service=web \
    --label com.docker.compose.oneoff=False "$IMAGE" >/dev/null
}

# start_lb: the balancer on ports it picks itself (0): the service port comes from its
# --port-file, the admin port from its "admin on HOST:PORT" log line. (Picking a free port here
# and passing it would race with anything else that binds meanwhile.)
lb_starts=0
start_lb() {
  lb_starts=$((lb_starts + 1))
  LB_LOG=$WORK/lb.$lb_starts.log
  rm -f "$WORK/lb.port"
  GROUP_NAME=web GROUP_PORT=8080 GROUP_PROJECT=$PROJECT GROUP_NETWORK=$NET \
    DOCKER_API_LOCATION=$SOCK SERVICE_PORT=0 ADMIN_PORT=0 \
    BIND_ADDRESS=127.0.0.1 ADMIN_BIND=127.0.0.1 LOG_LEVEL=info SHUTDOWN_TIMEOUT_MS=2000 \
    "$LB_BIN" --port-file "$WORK/lb.port" >"$LB_LOG" 2>&1 &
  LB_PID=$!
  SERVICE_PORT="" ADMIN_PORT=""
  wait_for 10 lb_listening || { fail "meshkv-lb did not report its ports"; tail -20 "$LB_LOG" >&2; exit 1; }
}
lb_listening() {
  [ -s "$WORK/lb.port" ] && SERVICE_PORT=$(head -n1 "$WORK/lb.port") &&
    ADMIN_PORT=$(sed -n 's/.*admin on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$LB_LOG" | tail -n1) &&
    [ -n "$SERVICE_PORT" ] && [ -n "$ADMIN_PORT" ]
}

status() { curl -s --max-time 2 "http://127.0.0.1:$ADMIN_PORT/status"; }
# state NAME: the backend's state in /status, or "absent"
state() {
  local obj
  obj=$(status | grep -o '{"id":"[^}]*}' | grep "\"name\":\"${ID}_$1\"")
  if [ -z "$obj" ]; then echo absent; else echo "$obj" | sed 's/.*"state":"\([a-z]*\)".*/\1/'; fi
}
wait_for() {  # wait_for SECONDS COMMAND...: poll until it succeeds
  local deadline=$(( $(now_ms) + $1 * 1000 )); shift
  until "$@"; do
    [ "$(now_ms)" -ge "$deadline" ] && return 1
    sleep 0.01
  done
}
is_state() { [ "$(state "$1")" = "$2" ]; }
# docker_counter NAME: a counter of the watcher in /status ("events", "inspects"), or -1.
docker_counter() {
  status | python3 -c "import json,sys; print(json.load(sys.stdin)['docker']['$1'])" 2>/dev/null ||
    echo -1
}
# watcher_past EVENTS INSPECTS: two more events (create, start) and one more inspect were handled.
watcher_past() {
  [ "$(docker_counter events)" -ge $(($1 + 2)) ] && [ "$(docker_counter inspects)" -ge $(($2 + 1)) ]
}
get() { curl -s --max-time 2 "http://127.0.0.1:$SERVICE_PORT/"; }

# ---- 1. two containers, both routed ------------------------------------------------------------
run_web web1 && run_web web2 || { fail "docker run"; exit 1; }
start_lb
wait_for 10 is_state web1 ready && wait_for 5 is_state web2 ready || fail "web1/web2 not ready in /status: $(status)"
seen=""
for _ in $(seq 1 10); do seen="$seen $(get)"; done
echo "$seen" | grep -q web1 && echo "$seen" | grep -q web2 || fail "round robin did not reach both containers:$seen"
log "routing over web1 and web2: ok"

# ---- 2. a new container: from its start to its first routed request ----------------------------
run_web web3 || fail "docker run web3"
started=$(docker inspect -f '{{.State.StartedAt}}' "${ID}_web3")
got3=""
wait_for 10 sh -c "for i in 1 2 3; do curl -s --max-time 1 http://127.0.0.1:$SERVICE_PORT/ | grep -q web3 && exit 0; done; exit 1" && got3=yes
routed=$(now_ms)
if [ -z "$got3" ]; then
  fail "web3 never routed"
  ready_ms=-1
else
  ready_ms=$(( routed - $(date -d "$started" +%s%N) / 1000000 ))
  log "web3 routed ${ready_ms} ms after it started"
  # The <= 1 s figure is measured and reported (bench); the test fails only when discovery is
  # broken, not when a loaded CI machine is slow.
  [ "$ready_ms" -le 10000 ] || fail "discovery took ${ready_ms} ms (> 10 s)"
  [ "$ready_ms" -le 1000 ] || echo "lb-e2e: note: ready->routed ${ready_ms} ms is above the 1 s target"
fi

# ---- 2b. a container with a healthcheck: routed only once healthy ------------------------------
events0=$(docker_counter events) inspects0=$(docker_counter inspects)
docker run -d --name "${ID}_web4" --hostname web4 --network "$NET" \
  --label "com.docker.compose.project=$PROJECT" --label com.docker.compose.service=web \
  --health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1' --health-interval 1s \
  "$IMAGE" >/dev/null || fail "docker run web4"
# Checked once the balancer handled web4's start (its create and start events counted) and the
# inspect that the start triggers was answered; the balancer's state is read BEFORE Docker's
# health, so a health that turned healthy in between cannot make a correct balancer fail.
if wait_for 10 watcher_past "$events0" "$inspects0"; then
  lb_state=$(state web4)
  if [ "$(docker inspect -f '{{.State.Health.Status}}' "${ID}_web4")" = starting ]; then
    [ "$lb_state" = absent ] || fail "web4 routed ($lb_state) while its health is starting"
  else
    log "note: web4 was healthy before the check; the starting case was not exercised"
  fi
else
  fail "the balancer never handled web4's start: $(status)"
fi
wait_for 10 is_state web4 ready || fail "web4 not routed once healthy: $(status)"
log "web4 routed only once healthy: ok"
docker rm -f "${ID}_web4" >/dev/null
wait_for 5 is_state web4 absent || fail "web4 still listed after its removal"

# ---- 3. docker stop: drained at the kill, removed at the die -----------------------------------
# PID 1 ignores SIGTERM here, so `docker stop -t 3` emits kill now and die about 3 s later.
t_kill=$(now_ms)
docker stop -t 3 "${ID}_web1" >/dev/null 2>&1 &
stop_pid=$!
if wait_for 5 is_state web1 draining; then
  t_drained=$(now_ms)
  # From the daemon's kill event (its timeNano, same host clock) to /status showing the drain.
  kill_ns=$(status | grep -o '"lastEvent":{[^}]*}' | sed -n 's/.*"action":"kill".*"timeNano":\([0-9]*\).*/\1/p')
  if [ -n "$kill_ns" ]; then
    drain_ms=$(( t_drained - kill_ns / 1000000 ))
  else
    drain_ms=$(( t_drained - t_kill ))  # another event came since: fall back to the CLI time
  fi
  log "web1 draining ${drain_ms} ms after its kill event"
  [ "$drain_ms" -le 5000 ] || fail "kill->drained took ${drain_ms} ms (> 5 s)"
  [ "$drain_ms" -le 100 ] || echo "lb-e2e: note: kill->drained ${drain_ms} ms is above the 100 ms target"
  bad=0
  for _ in $(seq 1 12); do get | grep -q web1 && bad=$((bad + 1)); done
  [ "$bad" -eq 0 ] || fail "$bad new connections reached draining web1"
else
  drain_ms=-1
  fail "web1 never drained: $(status)"
fi
wait_for 10 is_state web1 absent || fail "web1 not removed after it died"
wait "$stop_pid" 2>/dev/null
log "web1 removed after die: ok"

# ---- 4. restart the balancer: recovers the group from the listing ------------------------------
kill -TERM "$LB_PID"
if wait_for 10 sh -c "! kill -0 $LB_PID 2>/dev/null"; then
  wait "$LB_PID"; rc=$?
  [ "$rc" -eq 0 ] || fail "meshkv-lb exited $rc on SIGTERM"
else
  fail "meshkv-lb did not stop on SIGTERM"
fi
LB_PID=""
start_lb
wait_for 10 is_state web2 ready && wait_for 5 is_state web3 ready || fail "after restart: $(status)"
[ "$(state web1)" = absent ] || fail "stopped web1 came back after restart"
seen=""
for _ in $(seq 1 6); do seen="$seen $(get)"; done
echo "$seen" | grep -q web2 && echo "$seen" | grep -q web3 || fail "after restart, routing:$seen"
log "balancer restart recovered web2 and web3: ok"

echo "lb-e2e: discovery ready->routed=${ready_ms}ms kill->drained=${drain_ms}ms"
if [ "$failures" -gt 0 ]; then
  echo "lb-e2e: $failures failure(s); balancer log:" >&2
  tail -30 "$LB_LOG" >&2
  exit 1
fi
log "PASS"
exit 0
