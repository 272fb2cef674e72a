#!/usr/bin/env bash
# The change streams' figures (issue 13, part 4), measured on loopback and printed as a Markdown
# section (bench/run.sh's docs/benchmarks/watch.md):
#   1. a /set on node 1 -> its event at an SSE watcher on node 2: latency p50 / p99 / max, one
#      write at a time (light load), SAMPLES writes per round (target: p99 <= 1 ms)
#   2. /set throughput of one node (wrk) with 1,000 idle watchers (a prefix no write matches)
#      vs none, alternated ROUNDS times, medians (target: cost <= 20 %)
# Usage: bench/watch_bench.sh [build-dir] [--doc]  (--doc: also write docs/benchmarks/watch.md)
# Environment: DURATION (wrk seconds, 8), ROUNDS (3), SAMPLES (2000), WATCHERS (1000).
# Every process it starts is stopped on exit; only loopback addresses (127.0.0.X) are used.
set -euo pipefail

BUILD=${1:-build}
DOC=${2:-}
NODE=${MESHKV_NODE_BIN:-$BUILD/bin/meshkv-node}
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
SAMPLES=${SAMPLES:-2000}
WATCHERS=${WATCHERS:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/meshkv-watch-bench-XXXXXX)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$NODE" ] || { echo "no meshkv-node at $NODE (build first)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing (scripts/deps.sh bench)" >&2; exit 2; }
median() { python3 -c 'import sys,statistics; print(f"{statistics.median(float(x) for x in sys.argv[1:]):.2f}")' "$@"; }

# start_node ADDR [ENV=VALUE...]: a memory-mode node on a free port of ADDR; sets ADDR=ip:port.
start_node() {
  local id=$1
  shift
  rm -f "$WORK/$id.port"
  env -u MESH_NETWORK_URL PORT=0 HOSTNAME="$id" BIND_ADDRESS="$id" LOG_LEVEL=warn MEMORY=1 \
    "$@" "$NODE" --port-file "$WORK/$id.port" >>"$WORK/$id.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 500); do
    [ -s "$WORK/$id.port" ] && { ADDR="$id:$(cat "$WORK/$id.port")"; return 0; }
    sleep 0.02
  done
  echo "node $id did not start (see $WORK/$id.log)" >&2
  return 1
}
wait_ready() {  # ADDR TIMEOUT_S
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    curl -s "http://$1/status" | grep -q '"ready":true' && return 0
    sleep 0.05
  done
  return 1
}

cat >"$WORK/set.lua" <<'LUA'
local counter = 0
local id = 0
function setup(thread) thread:set("id", id); id = id + 1 end
function init(args) prefix = "k" .. id .. "-" end
request = function()
  counter = counter + 1
  return wrk.format("GET", "/set?k=" .. prefix .. counter .. "&v=" .. string.rep("v", 32))
end
LUA

load0=$(cut -d' ' -f1-3 /proc/loadavg)
# 1. latency: node 2 joins node 1; the watcher is on node 2.
start_node 127.0.0.41
A=$ADDR
start_node 127.0.0.42 MESH_NETWORK_URL=http://$A
B=$ADDR
wait_ready "$B" 30 || { echo "node 2 never ready" >&2; exit 1; }
lat_p50=() lat_p99=() lat_max=() rtt=() rtt99=()
for r in $(seq 1 "$ROUNDS"); do
  read -r p50 p99 mx rt rt99 < <(python3 "$HERE/watch_probe.py" latency "$A" "$B" "$SAMPLES")
  echo "latency round $r: p50 $p50 p99 $p99 max $mx (set rtt p50 $rt p99 $rt99) ms" >&2
  lat_p50+=("$p50") lat_p99+=("$p99") lat_max+=("$mx") rtt+=("$rt") rtt99+=("$rt99")
done
for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
PIDS=()

# 2. throughput: one node, wrk alone vs wrk with WATCHERS idle watchers held by watch_probe.py.
start_node 127.0.0.43
N=$ADDR
run_wrk() {
  taskset -c "${CLIENT_CPU:-1}" wrk -t1 -c16 -d"${DURATION}s" -s "$WORK/set.lua" "http://$N/" |
    awk '/Requests\/sec/ {print $2}'
}
none=() held=()
for r in $(seq 1 "$ROUNDS"); do
  x=$(run_wrk)
  none+=("$x")
  python3 "$HERE/watch_probe.py" hold "$N" "$WATCHERS" idle: >"$WORK/hold.out" &
  HOLD=$!
  PIDS+=("$HOLD")
  for _ in $(seq 1 600); do grep -q ready "$WORK/hold.out" 2>/dev/null && break; sleep 0.05; done
  open=$(curl -s "http://$N/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["watch"]["watchers"])')
  y=$(run_wrk)
  held+=("$y")
  kill -TERM "$HOLD" 2>/dev/null || true
  wait "$HOLD" 2>/dev/null || true
  echo "throughput round $r: none $x/s, $open watchers $y/s" >&2
done

mn=$(median "${none[@]}")
mh=$(median "${held[@]}")
cost=$(python3 -c "print(f'{(1 - $mh / $mn) * 100:.1f}')")
load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(cat <<MD
## Change streams (issue 13, part 4)

Measured by \`bench/watch_bench.sh\` ($(git -C "$HERE/.." rev-parse --short HEAD 2>/dev/null || echo '?'))
on $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, load average $load0 at the start and $load at the end
(a shared machine: with several builds running, the tail latencies are the scheduler's).
Memory-mode nodes on loopback; medians of $ROUNDS rounds.

| figure | result | target |
|---|---|---|
| /set on node 1 -> event at an SSE watcher on node 2 (through replication), one write at a time, $SAMPLES per round: p50 | $(median "${lat_p50[@]}") ms | |
| same, p99 | $(median "${lat_p99[@]}") ms | <= 1 ms |
| same, max | $(median "${lat_max[@]}") ms | |
| the /set round trip alone (client to node 1 and back), p50 / p99, for scale | $(median "${rtt[@]}") / $(median "${rtt99[@]}") ms | |
| /set throughput, one node, no watchers (wrk -t1 -c16, ${DURATION} s) | $mn req/s | |
| /set throughput with $WATCHERS idle watchers (prefix \`idle:\`, never written) | $mh req/s | |
| cost of the idle watchers | $cost % | <= 20 % |

Raw rounds: latency p50 ${lat_p50[*]} ms, p99 ${lat_p99[*]} ms; throughput without watchers
${none[*]} req/s, with ${held[*]} req/s. The latency is timed from sending the /set to node 1
until the event is read on node 2's stream, so it includes the /set itself and node 1's
replication batch; an idle watcher costs a /set one hash lookup per distinct watched prefix
length and the write's copy into the resume ring.

MD
)
echo "$section"
if [ "$DOC" = "--doc" ]; then
  mkdir -p "$HERE/../docs/benchmarks"
  printf '%s\n\n' "$section" >"$HERE/../docs/benchmarks/watch.md"
fi
