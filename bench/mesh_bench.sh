#!/usr/bin/env bash
# The mesh's four figures (issue "The mesh", section 5), measured on loopback and printed as a
# Markdown section for docs/benchmarks.md:
#   1. /set throughput of a 3-node cluster (wrk spread over the three nodes) vs one node alone
#   2. write visibility: /set acknowledged on A -> value readable on B, under background load
#   3. catch-up: a new node reaches `ready` with 1,000,000 records (64 B keys, 256 B values)
#   4. bytes of one anti-entropy round between two equal nodes holding those records
# Usage: bench/mesh_bench.sh [build-dir]   (default build/; needs wrk and python3)
# Environment: DURATION (wrk seconds, default 10), RECORDS (default 1000000),
#   ONLY=live|catchup (run only figures 1-2 or 3-4; default both).
# Every process it starts is stopped on exit; only loopback addresses (127.0.0.X) are used.
set -euo pipefail

BUILD=${1:-build}
NODE=${MESHKV_NODE_BIN:-$BUILD/bin/meshkv-node}
DURATION=${DURATION:-10}
RECORDS=${RECORDS:-1000000}
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

# start_node ADDR [ENV=VALUE...]: starts a node on a free port of its own loopback address ADDR
# (127.0.0.X, also its node id, so the default ADVERTISE_URL reaches it); sets ADDR=ip:port.
# Not called in $(...): the pid must be recorded in this shell.
start_node() {
  local id=$1
  shift
  rm -f "$WORK/$id.port"
  env PORT=0 HOSTNAME="$id" BIND_ADDRESS="$id" LOG_LEVEL=warn \
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
echo "per node of a 3-node mesh, same run (client capacity is the same in both). Visibility: a"
echo "/set acknowledged by A, then B polled on a keep-alive connection until it answers the value,"
echo "while another process writes ~2000/s to C. Catch-up: a node with the records is joined by a"
echo "new node; time from its process start to \`ready\` (and join-to-ready from its \`/status\`)."
echo "Anti-entropy: bodies of one round between the two equal nodes (\`antiEntropyLastBytes\`)."
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

start_node 127.0.0.22 MESH_NETWORK_URL=http://127.0.0.1:1 JOIN_RETRY_MS=20
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

# --- 2. write visibility -----------------------------------------------------------------------
vis=$(python3 "$HERE/mesh_visibility.py" "$P1" "$P2" "$P3" 2000)
echo "| write visibility A -> B under background load (2000 samples) | $vis | p99 <= 2 ms |"

for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
PIDS=()
fi
[ "$ONLY" = live ] && exit 0

# --- 3. catch-up of 1M records -----------------------------------------------------------------
start_node 127.0.0.25 MESH_NETWORK_URL=http://127.0.0.1:1 JOIN_RETRY_MS=20 ANTI_ENTROPY_INTERVAL_MS=1000
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
echo "| catch-up: new node ready with $have records (64 B keys, 256 B values) | ${wall} s from process start (${catch} ms join to ready) | <= 5 s |"

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
