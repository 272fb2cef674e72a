# Helpers shared by the bench/ scripts (sourced, not run): free ports, starting the servers
# under test (meshkv-node, meshkv-lb) and the references (nginx, HAProxy, Redis) each on its own
# loopback port with its own config in $WORK, waiting for them, running wrk, medians and ratios.
# Every process started here is recorded in PIDS and stopped by bench_cleanup (run.sh traps it
# on EXIT/INT/TERM): nothing outlives the run. Only 127.0.0.1 is ever a target.
# The one thing to know: start_* must not run in $(...) (the pid must land in this shell's PIDS).

PIDS=()
SERVER_CPU=${SERVER_CPU:-0}  # the server under test is pinned here ...
CLIENT_CPU=${CLIENT_CPU:-1}  # ... and wrk here (see docs/benchmarks.md, "Method")

log() { echo "[bench $(date -u +%H:%M:%S)] $*" >&2; }

bench_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  PIDS=()
}

# stop_pid PID: stops one server started here and forgets it.
stop_pid() {
  local p=$1 i
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" = "$p" ] && unset 'PIDS[i]'; done
  PIDS=("${PIDS[@]}")
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL [SECONDS]: polls until URL answers (any HTTP status).
wait_http() {
  local deadline=$((SECONDS + ${2:-10}))
  while [ $SECONDS -lt $deadline ]; do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.05
  done
  log "no answer from $1"
  return 1
}

# wait_tcp PORT [SECONDS]: polls until 127.0.0.1:PORT accepts.
wait_tcp() {
  local deadline=$((SECONDS + ${2:-10}))
  while [ $SECONDS -lt $deadline ]; do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  log "nothing listens on 127.0.0.1:$1"
  return 1
}

pin() { taskset -c "$1" "${@:2}"; }

# --- servers -------------------------------------------------------------------------------------

# start_nginx PORT [CPU]: one worker, no master, no access log; `/` answers 200 {"ok":true},
# /big/ serves files from $WORK/www. Sets NGINX_PID.
start_nginx() {
  local port=$1 cpu=${2:-$SERVER_CPU} dir="$WORK/nginx-$1"
  mkdir -p "$dir" "$WORK/www"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  sendfile on;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type application/json; return 200 '{"ok":true}'; }
    location /big/ { root $WORK/www; default_type application/octet-stream; }
  }
}
EOF
  taskset -c "$cpu" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" 2>>"$dir/stderr.log" &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  wait_tcp "$port"
}

# start_haproxy PORT BACKEND_PORT [CPU]: one thread, TCP mode, no logs. Sets HAPROXY_PID.
start_haproxy() {
  local port=$1 backend=$2 cpu=${3:-$SERVER_CPU} dir="$WORK/haproxy-$1"
  mkdir -p "$dir"
  cat >"$dir/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend bench
  bind 127.0.0.1:$port
  default_backend nginx
backend nginx
  server n1 127.0.0.1:$backend
EOF
  taskset -c "$cpu" haproxy -db -f "$dir/haproxy.cfg" >>"$dir/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  PIDS+=("$HAPROXY_PID")
  wait_tcp "$port"
}

# start_lb PORT BACKEND_PORT [CPU]: meshkv-lb in static mode. Sets LB_PID.
start_lb() {
  local port=$1 backend=$2 cpu=${3:-$SERVER_CPU}
  BACKENDS="127.0.0.1:$backend" SERVICE_PORT="$port" BIND_ADDRESS=127.0.0.1 LOG_LEVEL=warn \
    taskset -c "$cpu" "$LB_BIN" >>"$WORK/lb-$port.log" 2>&1 &
  LB_PID=$!
  PIDS+=("$LB_PID")
  wait_tcp "$port"
}

# start_redis PORT [CPU]: no persistence, DEBUG enabled (for DEBUG POPULATE). Sets REDIS_PID.
start_redis() {
  local port=$1 cpu=${2:-$SERVER_CPU} dir="$WORK/redis-$1"
  mkdir -p "$dir"
  taskset -c "$cpu" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$dir" --enable-debug-command yes --logfile "$dir/redis.log" &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  wait_tcp "$port"
}

# start_node [CPU] [ENV=VALUE...]: a standalone meshkv-node on a port it picks. Sets NODE_PID
# and NODE_PORT.
start_node() {
  local cpu=${1:-$SERVER_CPU}
  shift || true
  local pf="$WORK/node-$RANDOM.port"
  # The published figures are of the memory mode; BENCH_MEMORY=0 measures with the log
  # (FSYNC as set, default everysec) in a fresh directory under $WORK.
  env PORT=0 LOG_LEVEL=warn MEMORY="${BENCH_MEMORY:-1}" DATA_DIR="$WORK/data-$RANDOM" "$@" taskset -c "$cpu" "$NODE_BIN" --port-file "$pf" \
    >>"$WORK/node.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  local deadline=$((SECONDS + ${NODE_START_TIMEOUT:-10}))  # more for a node recovering its data
  while [ $SECONDS -lt $deadline ]; do
    if [ -s "$pf" ]; then
      NODE_PORT=$(cat "$pf")
      wait_http "http://127.0.0.1:$NODE_PORT/healthcheck" && return 0
    fi
    sleep 0.02
  done
  log "meshkv-node did not start (see $WORK/node.log)"
  return 1
}

vmrss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# --- wrk -----------------------------------------------------------------------------------------

# run_wrk OUTFILE wrk-args...: wrk pinned to CLIENT_CPU; its whole output is kept in OUTFILE
# (appended to the raw log by the caller).
run_wrk() {
  local out=$1
  shift
  pin "$CLIENT_CPU" wrk "$@" >"$out" 2>&1 || true
}

wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_errors() {  # non-2xx/3xx plus socket errors, as one number
  awk '/Non-2xx or 3xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10}
       END {print n + 0}' "$1"
}
# wrk_mbps FILE: Transfer/sec in MB/s (wrk prints KB, MB or GB).
wrk_mbps() {
  awk '/^Transfer\/sec:/ {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v);
       f = (u == "GB") ? 1024 : (u == "KB") ? 1 / 1024 : (u == "B") ? 1 / 1048576 : 1;
       printf "%.1f\n", v * f}' "$1"
}
# wrk_p99_ms FILE: the 99% latency of `wrk --latency`, in ms.
wrk_p99_ms() {
  awk '$1 == "99%" {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
       f = (u == "us") ? 0.001 : (u == "s") ? 1000 : (u == "m") ? 60000 : 1;
       printf "%.2f\n", v * f}' "$1"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
# ratio_range "A1 A2 .." "B1 B2 ..": the smallest and largest of the paired ratios Ai / Bi, as "min-max"
# (rounds are paired: both sides of round i ran back to back), or "n/a".
ratio_range() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    n = split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= n; i++) if (y[i] > 0) { r = x[i] / y[i]; if (!k++ || r < lo) lo = r; if (k == 1 || r > hi) hi = r }
    if (k) printf "%.2f-%.2f", lo, hi; else print "n/a" }'
}
# paired_ratio "A1 A2 .." "B1 B2 ..": the median of the paired ratios Ai / Bi, or "n/a". Each round's
# two runs ran back to back, so a slow stretch of the machine moves both; medians taken of each
# side apart can pick a slow round for one and a fast one for the other.
paired_ratio() {
  local r
  r=$(awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= n; i++) if (y[i] > 0) printf "%s ", x[i] / y[i] }')
  # shellcheck disable=SC2086
  if [ -n "$r" ]; then printf '%.2f' "$(median $r)"; else echo n/a; fi
}
# rounds_ahead "A1 A2 .." "B1 B2 ..": in how many rounds Ai >= Bi, as "k/n".
rounds_ahead() {
  awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= n; i++) k += (x[i] + 0 >= y[i] + 0); printf "%d/%d", k, n }'
}
# verdict VALUE OP TARGET: "yes" or "**no**".
verdict() { awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {if (v !~ /^[0-9.]+$/) {print "**n/a**"; exit}
  ok = (op == ">=") ? v + 0 >= t + 0 : v + 0 <= t + 0; print ok ? "yes" : "**no**"}'; }
fmt_int() { printf '%.0f' "$1"; }

# redis_rps FILE: the requests/s of a `redis-benchmark --csv` run (one test).
redis_rps() { awk -F'"' '$2 ~ /^[A-Z]/ && $4 ~ /^[0-9.]+$/ {v = $4} END {if (v != "") print v}' "$1"; }
