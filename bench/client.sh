#!/usr/bin/env bash
# The client library's figures (issue 14): one meshkv-node on loopback, then
#   - blocking get round trips/s from one thread: meshkv-client-bench blocking, against a curl
#     keep-alive loop (one curl process, N URLs, one connection) on the same node, and against
#     Redis's one-connection request/response loop (redis-benchmark -c 1 -P 1 GET, what
#     redis-cli --latency does) on redis-server as the reference;
#   - async throughput: meshkv-client-bench async with IN_FLIGHT requests outstanding, against
#     wrk -t1 -c IN_FLIGHT on the same route (the target: >= 0.9x wrk).
# Server pinned to SERVER_CPU, clients to CLIENT_CPU. Prints a Markdown table; measures only.
# Environment: BUILD (default build), MESHKV_NODE_BIN, DURATION (5), IN_FLIGHT (64).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
NODE_BIN=${MESHKV_NODE_BIN:-$ROOT/$BUILD/bin/meshkv-node}
BENCH_BIN=${MESHKV_CLIENT_BENCH_BIN:-$ROOT/$BUILD/bin/meshkv-client-bench}
DURATION=${DURATION:-5}
IN_FLIGHT=${IN_FLIGHT:-64}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$(mktemp -d /tmp/meshkv-client-bench-XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

PORT=0 HOSTNAME=bench LOG_LEVEL=warn MEMORY=1 taskset -c "$SERVER_CPU" "$NODE_BIN" --port-file "$WORK/port" \
  >"$WORK/node.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 500); do [ -s "$WORK/port" ] && break; sleep 0.02; done
URL=http://127.0.0.1:$(cat "$WORK/port")
curl -fsS "$URL/set?k=bench&v=value" >/dev/null
client() { taskset -c "$CLIENT_CPU" "$@"; }

blocking=$(client "$BENCH_BIN" "$URL" blocking "$DURATION" | grep -oE '^blocking get: [0-9]+' | grep -oE '[0-9]+$')

n=20000
for _ in $(seq 1 $n); do echo "url = \"$URL/get?k=bench\""; echo "output = /dev/null"; done >"$WORK/curl.cfg"
start=$(date +%s.%N)
client curl -s -K "$WORK/curl.cfg"
curl_rt=$(python3 -c "import sys; print(round($n / ($(date +%s.%N) - $start)))")

redis_rt="n/a"
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
  rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  taskset -c "$SERVER_CPU" redis-server --port "$rport" --save '' --appendonly no >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 500); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.02; done
  redis-cli -p "$rport" set bench value >/dev/null
  redis_rt=$(client redis-benchmark -p "$rport" -c 1 -P 1 -n 50000 -t get -q --csv |
    awk -F'"' '/GET/ {print int($4)}')
fi

async=$(client "$BENCH_BIN" "$URL" async "$DURATION" "$IN_FLIGHT" | grep -oE '^async get: [0-9]+' | grep -oE '[0-9]+$')
wrk_rps=$(client wrk -t1 -c"$IN_FLIGHT" -d"${DURATION}s" "$URL/get?k=bench" | awk '/Requests\/sec/ {print int($2)}')

table() {
echo "| figure (one node, loopback) | requests/s |"
echo "|---|---|"
echo "| meshkv::Client blocking get, 1 thread | $blocking |"
echo "| curl keep-alive loop, /get | $curl_rt |"
echo "| Redis GET, 1 connection, no pipelining (redis-benchmark -c 1) | $redis_rt |"
echo "| meshkv::AsyncClient get, $IN_FLIGHT in flight, 1 thread | $async |"
echo "| wrk -t1 -c$IN_FLIGHT, /get | $wrk_rps |"
python3 -c "print(f'| async / wrk | {$async / $wrk_rps:.2f}x |')"
if [ "$redis_rt" != "n/a" ]; then
  python3 -c "print(f'| blocking / Redis one-connection loop | {$blocking / $redis_rt:.2f}x |')"
fi
python3 -c "print(f'| blocking / curl keep-alive loop | {$blocking / $curl_rt:.2f}x |')"
}

# --doc: also write docs/benchmarks/client.md (bench/run.sh includes it in docs/benchmarks.md).
if [ "${1:-}" = "--doc" ]; then
  doc=$ROOT/docs/benchmarks/client.md
  {
    echo "## Client library: meshkv::Client and AsyncClient (issue 14)"
    echo
    echo "Measured by \`bench/client.sh --doc\` (\`make bench\` runs it) on $(date -u '+%Y-%m-%d %H:%M UTC');"
    echo "machine: $(uname -srm), $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo));"
    echo "load average at start $LOAD0. Server on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU, $DURATION s each."
    echo
    table
    echo
    echo "The blocking client is one request in flight on one keep-alive connection, like"
    echo "redis-cli's latency loop (Redis's one-connection GET is the reference). The async client"
    echo "pipelines $IN_FLIGHT requests on its pool while wrk keeps $IN_FLIGHT connections with one request"
    echo "each, so the async/wrk ratio shows the pipelining, not a faster server."
  } >"$doc"
  cat "$doc"
else
  table
fi
