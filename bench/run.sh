#!/usr/bin/env bash
# The benchmark driver behind `make bench`: measures meshkv against its references on loopback
# and regenerates docs/benchmarks.md. Each section (node, memory, lb, mesh, persistence) writes its own
# generated file docs/benchmarks/<section>.md (any other *.md there, e.g. docker.md, is kept
# and included); docs/benchmarks.md is then reassembled from all of them, so a subset run
# (`bench/run.sh lb`) refreshes only what it measured. Every server is started here, on its own
# port with its own config in a temp dir, and killed on exit whatever happens (trap).
# meshkv and its reference are alternated ROUNDS times in one run; results are medians.
# Usage: bench/run.sh [node] [memory] [lb] [mesh] [persistence]     (default: all five)
#        bench/run.sh assemble    (measure nothing; rebuild docs/benchmarks.md from the sections)
# Environment: BUILD (build dir, default build), DURATION (seconds per wrk run, default 8),
#   ROUNDS (default 3), MESHKV_NODE_BIN, MESHKV_LB_BIN, SERVER_CPU (0), CLIENT_CPU (1).
#   lb only: LB_ROUNDS (5), LB_DURATION (5), LB_REDIS_N, LB_REDIS_PN (redis-benchmark -n without
#   and with -P 16), LB_PIN (host, split and/or none, in order), LB_SCHED (rr | other); see bench_lb.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
NODE_BIN=${MESHKV_NODE_BIN:-$ROOT/$BUILD/bin/meshkv-node}
LB_BIN=${MESHKV_LB_BIN:-$ROOT/$BUILD/bin/meshkv-lb}
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
OUT=$ROOT/docs/benchmarks
WORK=$(mktemp -d /tmp/meshkv-bench-XXXXXX)

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
trap 'bench_cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(node memory lb mesh persistence)
for s in "${sections[@]}"; do
  case "$s" in node | memory | lb | mesh | persistence | assemble) ;; *)
    echo "usage: $0 [node] [memory] [lb] [mesh] [persistence] | $0 assemble" >&2
    exit 2
    ;;
  esac
done
for tool in wrk nginx haproxy redis-server redis-cli redis-benchmark curl python3 taskset; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/deps.sh bench" >&2; exit 2; }
done
[ "$(nproc)" -ge 2 ] || { SERVER_CPU=0; CLIENT_CPU=0; }
mkdir -p "$OUT"

CMDLINE="bench/run.sh${*:+ $*}"
stamp() { date -u '+%Y-%m-%d %H:%M UTC'; }
machine() {
  local cpu mem
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
  echo "$(uname -srm), $(nproc) CPUs ($cpu), $mem RAM"
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# cpu_ticks: "steal total" jiffies of all CPUs so far (/proc/stat), for steal_pct.
cpu_ticks() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print $9, t}' /proc/stat; }
# steal_pct BEFORE AFTER: the share of CPU time the hypervisor gave to other guests in between.
steal_pct() { awk -v b="$1" -v a="$2" 'BEGIN {split(b, x, " "); split(a, y, " ");
  d = y[2] - x[2]; printf "%.0f", (d > 0 ? 100 * (y[1] - x[1]) / d : 0)}'; }

# section_header TITLE: the heading and provenance lines every generated section starts with.
section_header() {
  echo "## $1"
  echo
  echo "Measured by \`$CMDLINE\` (build \`$BUILD\`, $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "on $(stamp); machine: $(machine); load average at start $(loadavg)."
  echo
}

# ==================================================================================================
# node: /get and /set of meshkv-node vs nginx returning a constant (issue 3)
# ==================================================================================================
bench_node() {
  [ -x "$NODE_BIN" ] || { log "no meshkv-node at $NODE_BIN: skipping node"; return 1; }
  local keys=100000 r f np
  log "node: starting meshkv-node and nginx (both pinned to CPU $SERVER_CPU)"
  start_node "$SERVER_CPU" || return 1
  local node_port=$NODE_PORT node_pid=$NODE_PID
  python3 bench/load.py "127.0.0.1:$node_port" --prefix key: --count $keys --value-bytes 100 || return 1
  np=$(free_port)
  start_nginx "$np" || return 1
  local -a gn=() gx=() sn=() sx=() errs=()
  for r in $(seq 1 "$ROUNDS"); do
    for kind in get set; do
      for target in node nginx; do
        f="$WORK/node-$kind-$target-$r.txt"
        local port=$node_port
        [ $target = nginx ] && port=$np
        log "node: round $r $kind -> $target"
        run_wrk "$f" -t1 -c50 -d"${DURATION}s" -s "bench/wrk/$kind.lua" "http://127.0.0.1:$port" -- $keys key:
        local v
        v=$(wrk_rps "$f")
        case $kind-$target in
          get-node) gn+=("$v") ;; get-nginx) gx+=("$v") ;;
          set-node) sn+=("$v") ;; set-nginx) sx+=("$v") ;;
        esac
        [ "$(wrk_errors "$f")" = 0 ] || errs+=("$kind -> $target round $r: $(wrk_errors "$f") errors")
      done
    done
  done
  local rss_kb
  rss_kb=$(vmrss_kb "$node_pid")
  stop_pid "$node_pid"
  stop_pid "$NGINX_PID"

  local mgn mgx msn msx rg rs
  mgn=$(median "${gn[@]}"); mgx=$(median "${gx[@]}"); msn=$(median "${sn[@]}"); msx=$(median "${sx[@]}")
  rg=$(ratio "$mgn" "$mgx"); rs=$(ratio "$msn" "$msx")
  {
    section_header "Node: /get and /set throughput (issue 3)"
    echo "meshkv-node preloaded with $keys keys (\`key:0\`..\`key:$((keys - 1))\`, 100-byte values);"
    echo "\`wrk -t1 -c50 -d${DURATION}s\` keep-alive, uniformly random keys of that set"
    echo "(\`bench/wrk/get.lua\`, \`bench/wrk/set.lua\`: precomputed requests, LuaJIT PRNG)."
    echo "Reference: nginx, one worker, \`return 200 '{\"ok\":true}'\` for every path, driven by the"
    echo "same scripts. Server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; $ROUNDS alternated rounds, medians."
    echo
    echo "| Figure | meshkv-node | nginx | ratio | target | met |"
    echo "|---|---:|---:|---:|---:|:-:|"
    echo "| \`GET /get?k=K\` req/s | $(fmt_int "$mgn") | $(fmt_int "$mgx") | ${rg}x | >= 0.9x | $(verdict "$rg" '>=' 0.9) |"
    echo "| \`GET /set?k=K&v=V\` req/s | $(fmt_int "$msn") | $(fmt_int "$msx") | ${rs}x | >= 0.85x | $(verdict "$rs" '>=' 0.85) |"
    echo
    echo "Raw req/s per round: /get node ${gn[*]}; nginx ${gx[*]}. /set node ${sn[*]}; nginx ${sx[*]}."
    echo "Node RSS after the run: $((rss_kb / 1024)) MiB."
    if [ ${#errs[@]} -gt 0 ]; then
      echo
      echo "**Errors seen by wrk** (non-2xx or socket errors): ${errs[*]}."
    fi
    echo
  } >"$WORK/node.md"
  mv "$WORK/node.md" "$OUT/node.md"
}

# ==================================================================================================
# memory: RSS of 1M records vs Redis, and /get latency while /getAll streams to a slow client
# ==================================================================================================
bench_memory() {
  [ -x "$NODE_BIN" ] || { log "no meshkv-node at $NODE_BIN: skipping memory"; return 1; }
  local count=1000000 vbytes=256
  # Keys are "<57-byte prefix>:<N>", N in [0, 1M): 59..64 bytes, 63.9 on average (DEBUG
  # POPULATE's own key scheme, so meshkv and Redis hold exactly the same key strings).
  local prefix
  prefix=$(printf 'meshkv-bench-%044d' 0)
  local rp redis_kb redis_used node_kb node_base_kb
  rp=$(free_port)
  log "memory: Redis DEBUG POPULATE $count"
  start_redis "$rp" || return 1
  local redis_base_kb
  redis_base_kb=$(vmrss_kb "$REDIS_PID")
  redis-cli -p "$rp" DEBUG POPULATE $count "$prefix" $vbytes >/dev/null || return 1
  [ "$(redis-cli -p "$rp" DBSIZE)" = "$count" ] || { log "Redis holds $(redis-cli -p "$rp" DBSIZE) keys"; return 1; }
  local sample
  sample=$(redis-cli -p "$rp" GET "$prefix:123456" | wc -c)
  redis_kb=$(vmrss_kb "$REDIS_PID")
  redis_used=$(redis-cli -p "$rp" INFO memory | awk -F: '/^used_memory:/ {printf "%d", $2 / 1048576}')
  stop_pid "$REDIS_PID"

  log "memory: loading $count records into meshkv-node"
  start_node "$SERVER_CPU" || return 1
  local port=$NODE_PORT pid=$NODE_PID
  node_base_kb=$(vmrss_kb "$pid")
  local t0 t1 have
  t0=$(date +%s.%N)
  python3 bench/load.py "127.0.0.1:$port" --prefix "$prefix:" --count $count --value-bytes $vbytes || return 1
  t1=$(date +%s.%N)
  have=$(curl -s "http://127.0.0.1:$port/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["availableRecords"])')
  [ "$have" = "$count" ] || { log "meshkv-node holds $have records, not $count"; return 1; }
  node_kb=$(vmrss_kb "$pid")
  local rm
  rm=$(ratio "$node_kb" "$redis_kb")

  # /get p99 while /getAll streams the 1M records to a client reading 1 MB/s.
  # nginx under the same wrk gives the machine's own latency floor (scheduling noise).
  local np
  np=$(free_port)
  start_nginx "$np" || return 1
  local -a quiet=() busy=() ref=() qerr=() berr=()
  local r f
  for r in $(seq 1 "$ROUNDS"); do
    f="$WORK/getall-nginx-$r.txt"
    log "memory: round $r nginx (latency floor)"
    run_wrk "$f" -t1 -c10 -d"${DURATION}s" --latency -s bench/wrk/get.lua "http://127.0.0.1:$np" -- $count "$prefix:"
    ref+=("$(wrk_p99_ms "$f")")
    f="$WORK/getall-quiet-$r.txt"
    log "memory: round $r /get alone"
    run_wrk "$f" -t1 -c10 -d"${DURATION}s" --latency -s bench/wrk/get.lua "http://127.0.0.1:$port" -- $count "$prefix:"
    quiet+=("$(wrk_p99_ms "$f")")
    [ "$(wrk_errors "$f")" = 0 ] || qerr+=("round $r: $(wrk_errors "$f")")
    log "memory: round $r /get while /getAll streams to a 1 MB/s client"
    curl -s --limit-rate 1M "http://127.0.0.1:$port/getAll" -o /dev/null &
    local cpid=$!
    PIDS+=("$cpid")
    sleep 1  # let the stream start and fill the socket buffers
    f="$WORK/getall-busy-$r.txt"
    run_wrk "$f" -t1 -c10 -d"${DURATION}s" --latency -s bench/wrk/get.lua "http://127.0.0.1:$port" -- $count "$prefix:"
    busy+=("$(wrk_p99_ms "$f")")
    [ "$(wrk_errors "$f")" = 0 ] || berr+=("round $r: $(wrk_errors "$f")")
    kill -0 "$cpid" 2>/dev/null || berr+=("round $r: the /getAll client had already ended")
    stop_pid "$cpid"
  done
  local after_kb
  after_kb=$(vmrss_kb "$pid")
  stop_pid "$pid"
  stop_pid "$NGINX_PID"
  local mq mb mr
  mq=$(median "${quiet[@]}"); mb=$(median "${busy[@]}"); mr=$(median "${ref[@]}")
  {
    section_header "Node: memory and streaming (issue 3)"
    echo "1,000,000 records, keys \`<57-byte prefix>:<N>\` (59 to 64 bytes, 63.9 on average), values"
    echo "of $vbytes bytes. Redis: \`redis-server --save '' --appendonly no\`, then \`DEBUG POPULATE"
    echo "$count <prefix> $vbytes\`; meshkv-node: the same key strings, loaded over HTTP by"
    echo "\`bench/load.py\` (pipelined \`/set\`, every answer checked, then \`/status\` must count"
    echo "$count). Resident memory is \`VmRSS\` from \`/proc/PID/status\`."
    echo
    echo "| Figure | meshkv-node | Redis | ratio | target | met |"
    echo "|---|---:|---:|---:|---:|:-:|"
    echo "| VmRSS, 1M x (64 B key, 256 B value) | $((node_kb / 1024)) MiB | $((redis_kb / 1024)) MiB | ${rm}x | <= 0.8x | $(verdict "$rm" '<=' 0.8) |"
    echo
    echo "Raw: meshkv-node VmRSS $node_kb kB (empty: $node_base_kb kB; loaded in"
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s). Redis VmRSS $redis_kb kB (empty: $redis_base_kb kB),"
    echo "used_memory $redis_used MiB; a Redis value is $((sample - 1)) bytes."
    echo
    echo "\`/get\` latency (\`wrk -t1 -c10 -d${DURATION}s --latency\`, random keys of the 1M) while"
    echo "\`curl --limit-rate 1M /getAll\` streams the 1M records (~330 MB of JSON: it is still"
    echo "streaming when wrk ends), $ROUNDS rounds, medians:"
    echo
    echo "| Figure | p99 | target | met |"
    echo "|---|---:|---:|:-:|"
    echo "| nginx \`return 200\` p99 under the same wrk (the machine's floor) | $mr ms | | |"
    echo "| \`/get\` p99, no other client | $mq ms | | |"
    echo "| \`/get\` p99 while \`/getAll\` streams to a 1 MB/s client | $mb ms | < 20 ms | $(verdict "$mb" '<=' 20) |"
    echo
    echo "Raw p99 per round (ms): nginx ${ref[*]}; /get alone ${quiet[*]}; with /getAll ${busy[*]}. Node VmRSS after the"
    echo "streaming rounds: $((after_kb / 1024)) MiB."
    [ ${#qerr[@]} -eq 0 ] || echo "**wrk errors, /get alone**: ${qerr[*]}."
    [ ${#berr[@]} -eq 0 ] || echo "**wrk errors or early end, with /getAll**: ${berr[*]}."
    echo
  } >"$WORK/memory.md"
  mv "$WORK/memory.md" "$OUT/memory.md"
}

# ==================================================================================================
# lb: meshkv-lb vs HAProxy (1 thread, mode tcp), each in front of the same Redis and nginx
# (issues 4 and 11). Only the proxy differs between two runs of a row: same backends, same
# client, same CPUs, same counts.
# ==================================================================================================
LB_REDIS_N=${LB_REDIS_N:-150000}    # requests per redis-benchmark run, no pipelining
LB_REDIS_PN=${LB_REDIS_PN:-2000000} # requests per redis-benchmark run, 16-deep pipelines
# Placements measured, in order, each its own table in one run. host: the proxy and the backends
# share SERVER_CPU and the client has CLIENT_CPU, as the compose stack runs (the balancer on the
# nodes' host, its clients elsewhere); issue 11's target is judged here. The others are
# diagnostics without a target. split: the proxy alone on SERVER_CPU, clients and backends on
# CLIENT_CPU, a proxy with a core of its own; none: nothing pinned (the scheduler's placement
# changes from run to run, and with it the rate, by up to 1.6x: see lb-findings.md).
LB_PIN=${LB_PIN:-host split}
LB_SCHED=${LB_SCHED:-rr}            # rr: every process of the section runs SCHED_RR 10 (chrt)
LB_ROUNDS=${LB_ROUNDS:-5}
LB_DURATION=${LB_DURATION:-5}       # seconds per wrk run
LB_METRICS=(get set get16 set16 keepalive close bulk)

# lb_cpu ROLE: the CPU list a process of ROLE (proxy, backend, client) is pinned to.
lb_cpu() {
  if [ "$LB_PIN" = none ]; then
    echo "0-$(($(nproc) - 1))"
  elif [ "$1" = proxy ] || { [ "$LB_PIN" = host ] && [ "$1" = backend ]; }; then
    echo "$SERVER_CPU"
  else
    echo "$CLIENT_CPU"
  fi
}

# lb_client CMD...: runs a client pinned as clients are, under the section's scheduling policy.
lb_client() {
  if [ "$LB_SCHED" = rr ]; then
    chrt -r 10 taskset -c "$(lb_cpu client)" "$@"
  else
    taskset -c "$(lb_cpu client)" "$@"
  fi
}

# lb_run METRIC PORT OUTFILE: one run of METRIC against 127.0.0.1:PORT (pinned as a client);
# prints its figure (requests/s, or MB/s for bulk).
lb_run() {
  local metric=$1 port=$2 f=$3
  case $metric in
    get | set) lb_client redis-benchmark -p "$port" -t "$metric" -c 50 -n "$LB_REDIS_N" --csv >"$f" 2>&1 ;;
    get16 | set16)
      lb_client redis-benchmark -p "$port" -t "${metric%16}" -c 50 -P 16 -n "$LB_REDIS_PN" --csv >"$f" 2>&1
      ;;
    keepalive) lb_client wrk -t1 -c50 -d"${LB_DURATION}s" "http://127.0.0.1:$port/" >"$f" 2>&1 ;;
    close) lb_client wrk -t1 -c50 -d"${LB_DURATION}s" -H 'Connection: close' "http://127.0.0.1:$port/" >"$f" 2>&1 ;;
    bulk) lb_client wrk -t1 -c4 -d"${LB_DURATION}s" "http://127.0.0.1:$port/big/4m.bin" >"$f" 2>&1 ;;
  esac
  case $metric in
    get* | set*) redis_rps "$f" ;;
    bulk) wrk_mbps "$f" ;;
    *) wrk_rps "$f" ;;
  esac
}

# lb_errors METRIC OUTFILE: errors the client saw in that run (0 when none).
lb_errors() {
  case $1 in
    get* | set*) grep -qi 'error' "$2" && grep -ci 'error' "$2" || echo 0 ;;
    *) wrk_errors "$2" ;;
  esac
}

# lb_costs PID METRIC PORT: what the proxy PID spends per forwarded request, counted by the
# kernel (perf stat: syscall tracepoints, context switches, task-clock) over one run of METRIC;
# deterministic counts, unlike rates, and the TCP segments every process sent meanwhile (nstat
# TcpOutSegs, machine-wide: the client's, the proxy's and the backend's). Prints "reads eagain
# writes epoll_wait epoll_ctl cs cpu_us segments" or nothing when perf or its tracepoints are
# unavailable.
LB_PERF_EVENTS=syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_readv
LB_PERF_EVENTS+=,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_writev
LB_PERF_EVENTS+=,syscalls:sys_enter_sendmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl
LB_PERF_EVENTS+=,context-switches,task-clock
lb_costs() {
  local pid=$1 metric=$2 port=$3 f="$WORK/costs-$1-$2" n
  command -v perf >/dev/null || return 0
  nstat -n 2>/dev/null || true
  perf stat -x, -o "$f.perf" -e "$LB_PERF_EVENTS" \
    -e syscalls:sys_exit_read --filter 'ret == -11' -e syscalls:sys_exit_recvfrom --filter 'ret == -11' \
    -p "$pid" -- bash -c "$(declare -f lb_run lb_client lb_cpu redis_rps wrk_rps wrk_mbps); \
      LB_PIN=$LB_PIN LB_SCHED=$LB_SCHED SERVER_CPU=$SERVER_CPU CLIENT_CPU=$CLIENT_CPU LB_DURATION=3 \
      LB_REDIS_N=100000 lb_run $metric $port $f.out >/dev/null" 2>/dev/null || return 0
  local segs
  segs=$(nstat 2>/dev/null | awk '$1 == "TcpOutSegs" {print $2}')
  case $metric in
    get* | set*) n=100000 ;;
    *) n=$(awk '/requests in/ {print $1}' "$f.out") ;;
  esac
  [ -n "$n" ] && [ "$n" -gt 0 ] || return 0
  awk -F, -v n="$n" -v segs="${segs:-}" '$1 ~ /^[0-9.]+$/ {
      e = $3; sub(/^syscalls:sys_(enter|exit)_/, "", e); v[$3] = $1 }
    END {
      r = v["syscalls:sys_enter_read"] + v["syscalls:sys_enter_recvfrom"] + v["syscalls:sys_enter_readv"]
      w = v["syscalls:sys_enter_write"] + v["syscalls:sys_enter_sendto"] + v["syscalls:sys_enter_writev"] + v["syscalls:sys_enter_sendmsg"]
      a = v["syscalls:sys_exit_read"] + v["syscalls:sys_exit_recvfrom"]
      if (r == 0) exit
      printf "%.2f %.3f %.2f %.3f %.4f %.3f %.1f %s\n", r / n, a / n, w / n, v["syscalls:sys_enter_epoll_wait"] / n,
        v["syscalls:sys_enter_epoll_ctl"] / n, v["context-switches"] / n, v["task-clock"] * 1000 / n,
        segs == "" ? "n/a" : sprintf("%.2f", segs / n) }' "$f.perf"
}

bench_lb() {
  [ -x "$LB_BIN" ] || { log "no meshkv-lb at $LB_BIN: skipping lb"; return 1; }
  if [ "$LB_SCHED" = rr ] && ! chrt -r 10 true 2>/dev/null; then
    log "lb: SCHED_RR is not permitted here: measuring under the normal scheduler"
    LB_SCHED=other
  fi
  local pin first=1
  for pin in $LB_PIN; do  # all checked before any is measured
    case $pin in host | split | none) ;; *) log "lb: LB_PIN: unknown placement $pin"; return 1 ;; esac
  done
  mkdir -p "$WORK/www/big"
  head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/www/big/4m.bin"
  for pin in $LB_PIN; do
    LB_PIN=$pin bench_lb_placement "$first" || return 1
    first=0
  done
  for pin in $LB_PIN; do cat "$WORK/lb-$pin.md"; done >"$WORK/lb.md"
  mv "$WORK/lb.md" "$OUT/lb.md"
}

# bench_lb_placement FIRST: every row through both proxies with the processes placed as LB_PIN
# says; writes $WORK/lb-$LB_PIN.md (with the section's heading and method when FIRST is 1).
bench_lb_placement() {
  local first=$1
  local np rp lhp lrp hhp hrp
  np=$(free_port)
  rp=$(free_port)
  start_nginx "$np" "$(lb_cpu backend)" || return 1
  local nginx_pid=$NGINX_PID
  start_redis "$rp" "$(lb_cpu backend)" || return 1
  local redis_pid=$REDIS_PID
  # One process per backend for each proxy, so a Redis row and an HTTP row never share a loop.
  lhp=$(free_port)
  start_lb "$lhp" "$np" "$(lb_cpu proxy)" || return 1
  local lb_http=$LB_PID
  lrp=$(free_port)
  start_lb "$lrp" "$rp" "$(lb_cpu proxy)" || return 1
  local lb_redis=$LB_PID
  hhp=$(free_port)
  start_haproxy "$hhp" "$np" "$(lb_cpu proxy)" || return 1
  local ha_http=$HAPROXY_PID
  hrp=$(free_port)
  start_haproxy "$hrp" "$rp" "$(lb_cpu proxy)" || return 1
  local ha_redis=$HAPROXY_PID
  wait_http "http://127.0.0.1:$lhp/" && wait_http "http://127.0.0.1:$hhp/" || return 1
  # Real-time: on a machine shared with builds, a normal-priority benchmark measures mostly the
  # builds (rates move 2x between identical runs); real-time processes are not preempted by them.
  # The kernel's RT throttle still leaves the rest of the machine 5% of each second. One priority
  # for all: a backend above its client would preempt it at every request it is handed, which
  # rewards a proxy for being slow to pass requests on (see lb-findings.md). Round robin, not
  # FIFO: redis-benchmark busy-loops on EPOLLOUT at the end of a run and, under FIFO at Redis's
  # priority on Redis's CPU, starves Redis until a proxy's timeout; RR ends its turn after 100 ms.
  local p
  if [ "$LB_SCHED" = rr ]; then
    for p in "$nginx_pid" "$redis_pid" "$lb_http" "$lb_redis" "$ha_http" "$ha_redis"; do
      chrt -r -p 10 "$p" || return 1
    done
  fi
  [ "$(redis-cli -p "$lrp" PING)" = PONG ] && [ "$(redis-cli -p "$hrp" PING)" = PONG ] || return 1

  # Alternated rounds, the order flipped every round (lb first in odd rounds, HAProxy first in
  # even ones) so that neither side always runs right after the other's load.
  declare -A raw=()
  local -a errs=()
  local r metric target f port v order ticks0
  ticks0=$(cpu_ticks)
  for r in $(seq 1 "$LB_ROUNDS"); do
    order="lb haproxy"
    [ $((r % 2)) -eq 0 ] && order="haproxy lb"
    for metric in "${LB_METRICS[@]}"; do
      for target in $order; do
        case $target-$metric in
          lb-get* | lb-set*) port=$lrp ;; lb-*) port=$lhp ;;
          haproxy-get* | haproxy-set*) port=$hrp ;; haproxy-*) port=$hhp ;;
        esac
        f="$WORK/lb-$metric-$target-$r.txt"
        v=$(lb_run "$metric" "$port" "$f")
        if [ -z "$v" ]; then  # a client that gave up (e.g. a closed connection): once more
          errs+=("$metric -> $target round $r: no result, run again ($(tr '\r' '\n' <"$f" | grep -m1 -i error))")
          v=$(lb_run "$metric" "$port" "$f")
        fi
        log "lb: round $r $metric -> $target: ${v:-FAILED} (load $(loadavg))"
        raw[$metric-$target]+="${v:-0} "
        [ "$(lb_errors "$metric" "$f")" = 0 ] || errs+=("$metric -> $target round $r: $(lb_errors "$metric" "$f")")
      done
    done
  done

  # Per-request costs, counted by the kernel: one Redis GET, one keep-alive and one
  # Connection: close run per proxy.
  declare -A cost=()
  local m
  for m in get keepalive close; do
    cost[$m-lb]=$(lb_costs "$([ $m = get ] && echo "$lb_redis" || echo "$lb_http")" $m \
      "$([ $m = get ] && echo "$lrp" || echo "$lhp")")
    cost[$m-haproxy]=$(lb_costs "$([ $m = get ] && echo "$ha_redis" || echo "$ha_http")" $m \
      "$([ $m = get ] && echo "$hrp" || echo "$hhp")")
    log "lb: costs $m: lb ${cost[$m-lb]:-n/a}; haproxy ${cost[$m-haproxy]:-n/a}"
  done
  local lb_kb steal
  steal=$(steal_pct "$ticks0" "$(cpu_ticks)")
  [ "$steal" -lt 5 ] || log "lb: $steal% of the CPU time was stolen by the hypervisor: rates are not comparable"
  lb_kb=$(vmrss_kb "$lb_http")
  for p in "$lb_http" "$lb_redis" "$ha_http" "$ha_redis"; do stop_pid "$p"; done

  # Context: the backends without a proxy, moved to the proxy's CPU, one run of each kind.
  local -A direct=()
  if [ "$LB_PIN" = split ]; then
    taskset -pc "$SERVER_CPU" "$nginx_pid" >/dev/null
    taskset -pc "$SERVER_CPU" "$redis_pid" >/dev/null
  fi
  for metric in get get16 keepalive close bulk; do
    port=$np
    case $metric in get* | set*) port=$rp ;; esac
    direct[$metric]=$(lb_run "$metric" "$port" "$WORK/direct-$metric.txt")
  done
  stop_pid "$nginx_pid"
  stop_pid "$redis_pid"

  local -A med=() rat=()
  for metric in "${LB_METRICS[@]}"; do
    # shellcheck disable=SC2086
    med[$metric-lb]=$(median ${raw[$metric-lb]})
    # shellcheck disable=SC2086
    med[$metric-haproxy]=$(median ${raw[$metric-haproxy]})
    rat[$metric]=$(paired_ratio "${raw[$metric-lb]}" "${raw[$metric-haproxy]}")
  done
  local placement alone_at=""  # alone_at: where the backends ran in the no-proxy context runs
  case $LB_PIN in
    host)
      placement="the proxy, Redis and nginx on CPU $SERVER_CPU, the client (redis-benchmark or wrk) on CPU $CLIENT_CPU (\`LB_PIN=host\`): the balancer on its backends' host, as the compose stack runs it, and its clients elsewhere"
      alone_at="on the proxy's CPU, "
      ;;
    split)
      placement="the proxy alone on CPU $SERVER_CPU; Redis, nginx and the client (redis-benchmark or wrk) on CPU $CLIENT_CPU (\`LB_PIN=split\`): a proxy with a core of its own"
      alone_at="moved to the proxy's CPU, "
      ;;
    none) placement="nothing pinned (\`LB_PIN=none\`): every process free on every CPU" ;;
  esac
  row() {  # row LABEL METRIC UNIT
    local lv=${med[$2-lb]} hv=${med[$2-haproxy]}
    [ "$3" = MB/s ] || { lv=$(fmt_int "$lv"); hv=$(fmt_int "$hv"); }
    local line="| $1 | $lv | $hv | ${rat[$2]}x | $(rounds_ahead "${raw[$2-lb]}" "${raw[$2-haproxy]}") | $(ratio_range "${raw[$2-lb]}" "${raw[$2-haproxy]}") |"
    [ "$LB_PIN" = host ] && line+=" >= 1.0x | $(verdict "${rat[$2]}" '>=' 1.0) |"
    echo "$line"
  }
  costrow() {  # costrow LABEL KEY
    local c=${cost[$2]}
    [ -n "$c" ] || { echo "| $1 | n/a | | | | | | | |"; return; }
    # shellcheck disable=SC2086
    set -- "$1" $c
    echo "| $1 | $2 | $3 | $4 | $5 | $6 | $7 | $8 | $9 |"
  }
  {
    if [ "$first" = 1 ]; then
      section_header "Balancer: meshkv-lb vs HAProxy (issues 4 and 11)"
      echo "Both proxies in front of the same backends: Redis (\`redis-server --save ''\`, a TCP service"
      echo "that is not HTTP) and nginx (one worker, \`return 200 '{\"ok\":true}'\`, and a 4 MiB file"
      echo "served with sendfile). HAProxy $(haproxy -v 2>/dev/null | awk 'NR == 1 {print $3}'): \`nbthread 1\`, \`mode tcp\`, no logs, defaults otherwise."
      echo "meshkv-lb: \`BACKENDS=127.0.0.1:<port> SERVICE_PORT=<port>\` (static mode, defaults). Each"
      echo "proxy runs one process per backend. Each placement below is measured in this run, in turn."
      echo "Redis rows: \`redis-benchmark -c 50 -n $LB_REDIS_N\` (\`-P 16 -n $LB_REDIS_PN\` for pipelines), its"
      echo "overall requests/s; HTTP rows: \`wrk -t1\`, ${LB_DURATION} s, completed responses/s (MB/s for bulk)."
      [ "$LB_SCHED" = rr ] && echo "Every process of this section (proxies, backends, clients) runs SCHED_RR at priority 10 (\`chrt -r 10\`)."
      echo "$LB_ROUNDS rounds, each running every row through both proxies back to back (meshkv-lb first in"
      echo "odd rounds, HAProxy first in even ones). The rates are each proxy's median; the ratio is the"
      echo "median of the rounds' ratios (meshkv-lb / HAProxy within one round, whose two runs ran back to"
      echo "back), \"rounds ahead\" counts the rounds meshkv-lb won or tied, and \"round by round\" is the"
      echo "lowest and highest ratio of one round, the spread a single round can show."
      echo
    fi
    echo "### Placement: $LB_PIN"
    echo
    echo "Placement: $placement. CPU steal during the rounds (time the hypervisor gave to other"
    echo "guests, \`/proc/stat\`): $steal%$([ "$steal" -lt 5 ] || echo "; above 5% the rounds are not comparable")."
    echo
    local head="| Figure | meshkv-lb | HAProxy | ratio | rounds ahead | round by round |"
    local rule="|---|---:|---:|---:|---:|---:|"
    if [ "$LB_PIN" = host ]; then  # the target columns, as row() adds them
      echo "Issue 11's target (>= 1.0x HAProxy on every row) is judged in this placement, the one a"
      echo "user of the balancer meets."
      head+=" target | met |"
      rule+="---:|:-:|"
    else
      echo "A diagnostic, with no target: here the client and the backend share a CPU, which no"
      echo "deployment does, and that CPU, not the proxy, sets the rate (see lb-findings.md)."
    fi
    echo
    echo "$head"
    echo "$rule"
    row "Redis GET req/s (\`-c 50\`)" get req/s
    row "Redis SET req/s (\`-c 50\`)" set req/s
    row "Redis GET req/s (\`-c 50 -P 16\`)" get16 req/s
    row "Redis SET req/s (\`-c 50 -P 16\`)" set16 req/s
    row "HTTP keep-alive req/s (\`wrk -c50\`)" keepalive req/s
    row "new connections/s (\`Connection: close\`, \`-c50\`)" close req/s
    row "bulk MB/s (4 MiB responses, \`-c4\`)" bulk MB/s
    echo
    echo "Raw per round, meshkv-lb | HAProxy:"
    for metric in "${LB_METRICS[@]}"; do
      echo "$metric ${raw[$metric-lb]% } | ${raw[$metric-haproxy]% };"
    done
    echo "meshkv-lb VmRSS after: $((lb_kb / 1024)) MiB. Context, the backend alone without a proxy"
    echo "(${alone_at}one run each): Redis GET $(fmt_int "${direct[get]:-0}") req/s, GET -P 16"
    echo "$(fmt_int "${direct[get16]:-0}") req/s, nginx keep-alive $(fmt_int "${direct[keepalive]:-0}") req/s, $(fmt_int "${direct[close]:-0}") connections/s, ${direct[bulk]:-0} MB/s."
    [ ${#errs[@]} -eq 0 ] || { echo; echo "**Errors seen by the clients**: ${errs[*]}."; }
    echo
    echo "What the proxy spends per forwarded request (one request and its response), counted by the"
    echo "kernel with \`perf stat -p\` on the proxy over one Redis GET run (\`-c 50 -n 100000\`), one"
    echo "3 s keep-alive run and one 3 s \`Connection: close\` run (there a request is a connection):"
    echo "syscalls, reads that returned EAGAIN, context switches, CPU time (task-clock; user and kernel,"
    echo "including the loopback TCP work done in the proxy's syscalls), and the TCP segments all"
    echo "processes sent (\`nstat\` TcpOutSegs: client, proxy and backend, both connections)."
    echo
    echo "| Proxy, traffic | reads | EAGAIN reads | writes | epoll_wait | epoll_ctl | context switches | CPU µs | TCP segments |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    costrow "meshkv-lb, Redis GET" get-lb
    costrow "HAProxy, Redis GET" get-haproxy
    costrow "meshkv-lb, HTTP keep-alive" keepalive-lb
    costrow "HAProxy, HTTP keep-alive" keepalive-haproxy
    costrow "meshkv-lb, \`Connection: close\`" close-lb
    costrow "HAProxy, \`Connection: close\`" close-haproxy
    echo
  } >"$WORK/lb-$LB_PIN.md"
}

# ==================================================================================================
# mesh: the mesh engineer's own script (issue 5), its Markdown output included as is
# ==================================================================================================
bench_mesh() {
  if [ ! -f bench/mesh_bench.sh ]; then
    log "no bench/mesh_bench.sh: skipping mesh"
    return 0
  fi
  log "mesh: bench/mesh_bench.sh $BUILD"
  if bash bench/mesh_bench.sh "$BUILD" >"$WORK/mesh.md" 2>"$WORK/mesh.err"; then
    { cat "$WORK/mesh.md"; echo; } >"$OUT/mesh.md"
  else
    log "mesh_bench.sh failed: $(tail -3 "$WORK/mesh.err")"
    {
      echo "## Mesh (issue 5)"
      echo
      echo "\`bench/mesh_bench.sh $BUILD\` FAILED on $(stamp) (exit status non-zero); its last lines:"
      echo
      echo '```'
      tail -15 "$WORK/mesh.err"
      echo '```'
      echo
    } >"$OUT/mesh.md"
    return 1
  fi
}

# ==================================================================================================
# persistence: durability's cost, restart, compaction and rejoin vs Redis (issue 12), measured by
# bench/persistence.sh; its Markdown output included as is
# ==================================================================================================
bench_persistence() {
  log "persistence: bench/persistence.sh $BUILD"
  if DURATION=$DURATION ROUNDS=$ROUNDS bash bench/persistence.sh "$BUILD" >"$WORK/persistence.md" \
    2>"$WORK/persistence.err"; then
    mv "$WORK/persistence.md" "$OUT/persistence.md"
  else
    log "persistence.sh failed: $(tail -3 "$WORK/persistence.err")"
    {
      echo "## Persistence (issue 12)"
      echo
      echo "\`bench/persistence.sh $BUILD\` FAILED on $(stamp) (exit status non-zero); its last lines:"
      echo
      echo '```'
      tail -15 "$WORK/persistence.err"
      echo '```'
      echo
    } >"$OUT/persistence.md"
    return 1
  fi
}

# docs/benchmarks.md: a fixed preface, then the sections in issue order, then any other
# section file (e.g. docker.md written by scripts/e2e or the Docker tooling).
assemble() {
  local doc="$ROOT/docs/benchmarks.md" tmp="$WORK/benchmarks.md" s
  {
    cat <<EOF
# Benchmarks

Generated by \`make bench\` (= \`scripts/deps.sh bench\` + \`bench/run.sh\`); do not edit by hand:
each \`##\` section below is the file \`docs/benchmarks/<section>.md\`, rewritten only when that
section is run (\`bench/run.sh node memory lb mesh persistence\` runs a subset). Last assembled $(stamp) on
$(machine).

## Method

- Loopback only. Each server is started by the script on its own port with its own config in a
  temp dir, and killed at the end whatever happens. No benchmark runs in \`make test\`.
- meshkv and its reference are measured alternately, ${ROUNDS} rounds in one run, ${DURATION} s of
  wrk each; the figures are medians and the ratios are meshkv / reference.
- Single-threaded servers are pinned with \`taskset\`: the server (meshkv-node, nginx with one
  worker, Redis) on CPU ${SERVER_CPU}, wrk on CPU ${CLIENT_CPU}; the same placement for meshkv and for
  the reference. The balancer is measured in two placements in one run: with its backends
  (nginx, Redis) on CPU ${SERVER_CPU} and the client (wrk, redis-benchmark) alone on CPU ${CLIENT_CPU}, as the compose
  stack runs it; then with CPU ${SERVER_CPU} to itself and the backends sharing CPU ${CLIENT_CPU} with the client. Every
  process there runs SCHED_RR at one priority, so that the builds sharing the machine do not preempt
  them (see "Why the balancer figures disagreed" below).
- The machine is shared (other builds may run during a run: see the load average printed in
  each section); alternating the two sides spreads that noise over both.
- nginx keeps keep-alive connections open indefinitely (\`keepalive_requests\` raised) so that
  keep-alive runs never reconnect, as meshkv does not.
- Read the ratios with the noise in mind: on the project's shared 2-core machine the same
  server's rate varies by up to 2x from one round to the next (see the raw numbers), so a ratio
  within about 15% of a target is not a clear pass or miss. A \`perf\` profile of either side
  shows the kernel's loopback TCP path (including netfilter conntrack, loaded by Docker's
  iptables rules) taking most of the CPU; the servers' own code is a small share.
- Other sections (e.g. \`docker.md\`) are written by their owners into \`docs/benchmarks/\` and
  included here; \`bench/run.sh assemble\` rebuilds this file without measuring anything.

EOF
    # lb-findings.md is written by hand (what the figures mean); it follows the generated lb.md.
    for s in node memory lb lb-findings mesh persistence; do
      [ -f "$OUT/$s.md" ] && cat "$OUT/$s.md"
    done
    for s in "$OUT"/*.md; do
      case "$(basename "$s" .md)" in node | memory | lb | lb-findings | mesh | persistence) continue ;; esac
      [ -f "$s" ] && cat "$s"
    done
  } >"$tmp"
  mv "$tmp" "$doc"
}

log "work dir $WORK; sections: ${sections[*]}; $(machine); load $(loadavg)"
status=0
for s in "${sections[@]}"; do
  [ "$s" = assemble ] && continue
  "bench_$s" || status=1
  bench_cleanup
done
assemble
log "docs/benchmarks.md written"
exit $status
