#!/usr/bin/env bash
# The mesh's four figures (issue "The mesh", section 5), measured on loopback and printed as a
# Markdown section for docs/benchmarks.md:
#   1. /set throughput of a 3-node cluster (wrk spread over the three nodes) vs one node alone
#   2. write visibility: /set acknowledged on A -> value readable on B, under background load
#   3. catch-up: a new node reaches `ready` with 1,000,000 records (64 B keys, 256 B values)
#   4. bytes of one anti-entropy round between two equal nodes holding those records
# References in the same run: one node alone (1); a Redis primary and its replica measured by the
# same script (2), alternated with meshkv for ROUNDS rounds, medians; a Redis replica's full
# sync of the same records (3).
# Usage: bench/mesh_bench.sh [build-dir]   (default build/; needs wrk, python3, redis-server)
# Environment: DURATION (wrk seconds, default 10), RECORDS (default 1000000), ROUNDS (3),
#   SAMPLES (visibility samples per round, 2000), ONLY=live|catchup (figures 1-2 or 3-4).
# Every process it starts is stopped on exit; only loopback addresses (127.0.0.X) are used.
set -euo pipefail

BUILD=${1:-build}
NODE=${MESHKV_NODE_BIN:-$BUILD/bin/meshkv-node}
DURATION=${DURATION:-10}
RECORDS=${RECORDS:-1000000}
ROUNDS=${ROUNDS:-3}
SAMPLES=${SAMPLES:-2000}
ONLY=${ONLY:-all}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/meshkv-bench-XXXXXX)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$NODE" ] || { echo "no meshkv-node at $NODE (build first)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing (scripts/deps.sh bench)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server is missing (scripts/deps.sh bench)" >&2; exit 2; }

# start_redis PORT [ARGS...]: a throw-away Redis on 127.0.0.1:PORT (no persistence), pid recorded.
start_redis() {
  local port=$1
  shift
  mkdir -p "$WORK/redis-$port"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK/redis-$port" --logfile "$WORK/redis-$port.log" "$@" &
  PIDS+=($!)
  for _ in $(seq 1 500); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.02
  done
  echo "redis on $port did not start" >&2
  return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { python3 -c 'import sys,statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.2f}")' "$@"; }

# start_node ADDR [ENV=VALUE...]: starts a node on a free port of its own loopback address ADDR
# (127.0.0.X, also its node id, so the default ADVERTISE_URL reaches it); sets ADDR=ip:port.
# Not called in $(...): the pid must be recorded in this shell.
start_node() {
  local id=$1
  shift
  rm -f "$WORK/$id.port"
  # Memory mode like the published figures (BENCH_MEMORY=0: with the log, under $WORK).
  env -u MESH_NETWORK_URL PORT=0 HOSTNAME="$id" BIND_ADDRESS="$id" LOG_LEVEL=warn \
    MEMORY="${BENCH_MEMORY:-1}" DATA_DIR="$WORK/data-$id" \
    "$@" "$NODE" --port-file "$WORK/$id.port" >>"$WORK/$id.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 500); do
    [ -s "$WORK/$id.port" ] && { ADDR="$id:$(cat "$WORK/$id.port")"; return 0; }
    sleep 0.02
  done
  echo "node $id did not start (see $WORK/$id.log)" >&2
  return 1
}

status() { curl -s "http://$1/status"; }
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }
wait_ready() {  # ADDR:PORT TIMEOUT_S
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    if [ "$(status "$1" | json_field "['ready']" 2>/dev/null)" = "True" ]; then return 0; fi
    sleep 0.05
  done
  return 1
}

cat >"$WORK/set.lua" <<'EOF'
-- Each connection writes its own key range: k<thread>-<n>, 32-byte value.
local counter = 0
local nextId = 0
function setup(thread) nextId = nextId + 1; thread:set("tid", nextId) end
function init(args) counter = 0 end
function request()
  counter = counter + 1
  return wrk.format("GET", "/set?k=b" .. tid .. "-" .. (counter % 100000) ..
                    "&v=0123456789abcdef0123456789abcdef")
end
EOF

wrk_rps() {  # ADDR:PORT CONNECTIONS -> requests/s
  wrk -t1 -c"$2" -d"${DURATION}s" -s "$WORK/set.lua" "http://$1" 2>/dev/null |
    awk '/Requests\/sec/ {print $2}'
}

echo "## Mesh"
echo
echo "Command: \`bench/mesh_bench.sh $BUILD\` ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "Machine: \`$(uname -a)\`, $(nproc) cores; load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Throughput: three wrk processes (16 connections each) against one node alone, then one wrk"
echo "per node of a 3-node mesh, same run (client capacity is the same in both). Visibility"
echo "(\`bench/mesh_visibility.py\`): a write acknowledged by A, then B polled on a keep-alive"
echo "connection until it answers the value, while another process writes ~2000/s to C; $SAMPLES"
echo "samples a round, meshkv (A, B, C three nodes of the mesh) and Redis (A the primary, B its"
echo "replica, C the primary) alternated for $ROUNDS rounds; medians of the rounds. Catch-up: a node"
echo "holding the records is joined by a new node; time from its process start to \`ready\` (and"
echo "join-to-ready from its \`/status\`); the reference is a Redis replica started against a primary"
echo "holding the same records (\`DEBUG POPULATE\`, 64-byte keys, 256-byte values), with the"
echo "fastest full sync Redis offers (\`repl-diskless-sync yes\`, \`repl-diskless-sync-delay 0\`,"
echo "\`repl-diskless-load on-empty-db\`), timed from its process start to \`master_link_status:up\`"
echo "with every key loaded. Anti-entropy: bodies of one round between the two equal nodes"
echo "(\`antiEntropyLastBytes\`)."
echo

echo "| Figure | Result | Target |"
echo "|---|---|---|"

if [ "$ONLY" != catchup ]; then
# --- 1. throughput ---------------------------------------------------------------------------
start_node 127.0.0.21
A=$ADDR
wait_ready "$A" 10 || true
# The same client capacity in both runs: three wrk processes of 16 connections each.
r1=$WORK/r1; r2=$WORK/r2; r3=$WORK/r3
wrk_rps "$A" 16 >"$r1" & w1=$!
wrk_rps "$A" 16 >"$r2" & w2=$!
wrk_rps "$A" 16 >"$r3" & w3=$!
wait $w1 $w2 $w3
alone=$(python3 -c "print(sum(float(open(f).read() or 0) for f in ['$r1','$r2','$r3']))")
kill -TERM "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'

start_node 127.0.0.22  # the first node: no MESH_NETWORK_URL, ready at once
P1=$ADDR
wait_ready "$P1" 10
start_node 127.0.0.23 MESH_NETWORK_URL=http://$P1
P2=$ADDR
start_node 127.0.0.24 MESH_NETWORK_URL=http://$P2
P3=$ADDR
wait_ready "$P2" 20 && wait_ready "$P3" 20
wrk_rps "$P1" 16 >"$r1" & w1=$!
wrk_rps "$P2" 16 >"$r2" & w2=$!
wrk_rps "$P3" 16 >"$r3" & w3=$!
wait $w1 $w2 $w3
mesh=$(python3 -c "print(sum(float(open(f).read() or 0) for f in ['$r1','$r2','$r3']))")
ratio=$(python3 -c "print(f'{$mesh/$alone:.2f}')")
echo "| /set throughput, one node alone (wrk x3, 16 connections each) | $(printf '%.0f' "$alone") req/s | |"
echo "| /set throughput, 3-node mesh (wrk x3, 16 connections each) | $(printf '%.0f' "$mesh") req/s (${ratio}x) | >= 0.5x |"

# --- 2. write visibility, alternated with a Redis primary + replica -----------------------------
RP=$(free_port)
start_redis "$RP"
RR=$(free_port)
start_redis "$RR" --replicaof 127.0.0.1 "$RP"
for _ in $(seq 1 250); do
  redis-cli -p "$RR" info replication | grep -q 'master_link_status:up' && break
  sleep 0.02
done
m_med=(); m_p99=(); r_med=(); r_p99=()
for round in $(seq 1 "$ROUNDS"); do
  m=$(python3 "$HERE/mesh_visibility.py" --json "$P1" "$P2" "$P3" "$SAMPLES")
  r=$(python3 "$HERE/mesh_visibility.py" --json --redis "127.0.0.1:$RP" "127.0.0.1:$RR" "127.0.0.1:$RP" "$SAMPLES")
  m_med+=("$(echo "$m" | json_field "['median']")"); m_p99+=("$(echo "$m" | json_field "['p99']")")
  r_med+=("$(echo "$r" | json_field "['median']")"); r_p99+=("$(echo "$r" | json_field "['p99']")")
done
mp99=$(median "${m_p99[@]}"); rp99=$(median "${r_p99[@]}")
vratio=$(python3 -c "print(f'{$mp99/$rp99:.1f}')")
echo "| write visibility A -> B under background load, meshkv | median $(median "${m_med[@]}") ms, **p99 $mp99 ms** | p99 <= 2 ms |"
echo "| write visibility, Redis replica (reference, same script) | median $(median "${r_med[@]}") ms, p99 $rp99 ms (meshkv p99 = ${vratio}x Redis) | |"
VIS_RAW="Visibility p99 per round (ms): meshkv ${m_p99[*]}; Redis ${r_p99[*]}. Medians per round: meshkv ${m_med[*]}; Redis ${r_med[*]}."

for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
PIDS=()
fi
if [ "$ONLY" = live ]; then
  echo
  echo "$VIS_RAW"
  exit 0
fi

# --- 3. catch-up of 1M records -----------------------------------------------------------------
start_node 127.0.0.25 ANTI_ENTROPY_INTERVAL_MS=1000
C1=$ADDR
wait_ready "$C1" 10
python3 "$HERE/mesh_load.py" "$C1" "$RECORDS"
t0=$(date +%s.%N)
start_node 127.0.0.26 MESH_NETWORK_URL=http://$C1 ANTI_ENTROPY_INTERVAL_MS=1000
C2=$ADDR
wait_ready "$C2" 120
t1=$(date +%s.%N)
have=$(status "$C2" | json_field "['availableRecords']")
catch=$(status "$C2" | json_field "['mesh']['catchUpMs']")
wall=$(python3 -c "print(f'{($t1-$t0):.2f}')")
echo "| catch-up: new node ready with $have records (64 B keys, 256 B values) | **${wall} s** from process start (${catch} ms join to ready) | <= 5 s |"

# --- 3b. the reference: a Redis replica's full sync of the same records -------------------------
RP2=$(free_port)
start_redis "$RP2" --repl-diskless-sync yes --repl-diskless-sync-delay 0 --enable-debug-command local
prefix=$(printf 'meshkv-bench-%044d' 0)  # keys <57-byte prefix>:<N>, like meshkv's 64-byte keys
redis-cli -p "$RP2" debug populate "$RECORDS" "$prefix" 256 >/dev/null
[ "$(redis-cli -p "$RP2" dbsize)" = "$RECORDS" ] || { echo "redis primary not populated" >&2; exit 1; }
RR2=$(free_port)
t0=$(date +%s.%N)
start_redis "$RR2" --replicaof 127.0.0.1 "$RP2" --repl-diskless-load on-empty-db
deadline=$((SECONDS + 120))
while [ $SECONDS -lt $deadline ]; do
  info=$(redis-cli -p "$RR2" info replication 2>/dev/null || true)
  if echo "$info" | grep -q 'master_link_status:up' &&
    [ "$(redis-cli -p "$RR2" dbsize 2>/dev/null)" = "$RECORDS" ]; then
    break
  fi
  sleep 0.02
done
t1=$(date +%s.%N)
[ "$(redis-cli -p "$RR2" dbsize 2>/dev/null)" = "$RECORDS" ] || { echo "redis replica never synced" >&2; exit 1; }
rwall=$(python3 -c "print(f'{($t1-$t0):.2f}')")
cratio=$(python3 -c "print(f'{$wall/$rwall:.2f}')")
echo "| catch-up, Redis replica full sync of the same records (reference) | ${rwall} s from process start (meshkv = ${cratio}x Redis) | |"

# --- 4. anti-entropy bytes between equal nodes -------------------------------------------------
r0=$(status "$C1" | json_field "['mesh']['antiEntropyRounds']")
deadline=$((SECONDS + 30))
while [ $SECONDS -lt $deadline ]; do
  r=$(status "$C1" | json_field "['mesh']['antiEntropyRounds']")
  [ "$r" -gt "$((r0 + 1))" ] && break
  sleep 0.2
done
d1=$(status "$C1" | json_field "['mesh']['digest']")
d2=$(status "$C2" | json_field "['mesh']['digest']")
bytes=$(status "$C1" | json_field "['mesh']['antiEntropyLastBytes']")
same=$([ "$d1" = "$d2" ] && echo "equal digests" || echo "DIGESTS DIFFER")
echo "| anti-entropy round between two equal nodes with $have records | $bytes bytes ($same) | <= 100 KB |"
if [ -n "${VIS_RAW:-}" ]; then
  echo
  echo "$VIS_RAW"
fi
