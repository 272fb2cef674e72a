#!/usr/bin/env bash
# The persistence figures of issue 12, measured on loopback against Redis in the same run, printed
# as one Markdown section (bench/run.sh persistence writes it to docs/benchmarks/persistence.md):
#   1. SET req/s with FSYNC=everysec and FSYNC=always vs memory mode, and Redis appendfsync
#      everysec / always vs no AOF: one client program (bench/kvload.c, 50 connections, one
#      request in flight each) drives both servers, so only the server and its protocol differ;
#   2. restart to ready (/healthcheck 200; Redis: PING answers PONG) with 1M x (64 B, 256 B),
#      from the log, from the snapshot, vs Redis loading its RDB of the same records;
#   3. disk bytes after compaction vs the Redis RDB (compressed, as by default, and not);
#   4. /get p99 during a compaction of the 1M records (kvload's latencies cut to the window
#      that /status shows `compacting`);
#   5. rejoin: a node of two stopped, 10,000 of the 1M records changed, restarted on its data:
#      bytes its catch-up moved vs a full snapshot copy (a new empty node joining).
# ROUNDS alternated rounds, medians. Servers on SERVER_CPU, clients on CLIENT_CPU. Every process
# started here is stopped on exit (bench/lib.sh); data directories live in a temp dir on disk.
# Usage: bench/persistence.sh [build-dir]   Environment: DURATION (8), ROUNDS (3),
#   RECORDS (1000000), CHANGED (10000), COMPACT_MIN_BYTES (the node's default; lower it for a
#   small RECORDS), MESHKV_NODE_BIN, SERVER_CPU (0), CLIENT_CPU (1), PARTS (all; `rejoin`: part 5
#   only, printed as the Rejoin paragraph with its own date, command and load; `restart`: only
#   the load, one compaction without the /get client and the restart rounds, printed as their
#   own table: a few minutes instead of ~10, for work on the start-up path).
# The one thing to get right: everything fsynced must land on a real disk: WORK must not be a
# tmpfs (checked), or FSYNC=always and appendfsync always both measure nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${1:-${BUILD:-build}}
NODE_BIN=${MESHKV_NODE_BIN:-$ROOT/$BUILD/bin/meshkv-node}
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3}
RECORDS=${RECORDS:-1000000}
CHANGED=${CHANGED:-10000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshkv-pbench-XXXXXX")
TOOLS=bench/persist_tools.py
PARTS=${PARTS:-all}
case "$PARTS" in all | restart | rejoin) ;; *) echo "PARTS is all, restart or rejoin, not '$PARTS'" >&2; exit 2 ;; esac

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
trap 'bench_cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

[ -x "$NODE_BIN" ] || { echo "no meshkv-node at $NODE_BIN (build first)" >&2; exit 2; }
for tool in redis-server redis-cli python3 cc taskset; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/deps.sh bench" >&2; exit 2; }
done
if [ "$(stat -f -c %T "$WORK")" = tmpfs ]; then
  echo "$WORK is on a tmpfs: fsync costs nothing there; set TMPDIR to a directory on disk" >&2
  exit 2
fi
[ "$(nproc)" -ge 2 ] || { SERVER_CPU=0; CLIENT_CPU=0; }
cc -O2 -o "$WORK/kvload" bench/kvload.c
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
DISK=$(df -P "$WORK" | awk 'NR == 2 {print $1}')
DISK_FS=$(stat -f -c %T "$WORK")

# kvload PORT PROTO OP CONNS [ARGS...]: one closed-loop run, pinned as a client; prints its line.
kvload() {
  local port=$1 proto=$2 op=$3 conns=$4
  shift 4
  pin "$CLIENT_CPU" "$WORK/kvload" --port "$port" --proto "$proto" --op "$op" -c "$conns" \
    -d "$DURATION" "$@"
}
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }
status_field() {  # PORT PYTHON-EXPR-ON-d
  curl -s "http://127.0.0.1:$1/status" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"
}

# start_redis_with PORT DIR ARGS...: a Redis pinned to SERVER_CPU. Sets REDIS_PID.
start_redis_with() {
  local port=$1 dir=$2
  shift 2
  mkdir -p "$dir"
  taskset -c "$SERVER_CPU" redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
    --logfile "$dir/redis.log" "$@" &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  wait_tcp "$port"
}

prefix="$(printf 'meshkv-bench-%044d' 0):"  # keys of 59-64 bytes, as in the memory section
if [ "$PARTS" != rejoin ]; then  # parts 1-4 (not indented, so the blocks stay readable as they were)
# ==================================================================================================
# 1. SET throughput
# ==================================================================================================
declare -A port rps med
if [ "$PARTS" = all ]; then
log "persistence: SET throughput, $ROUNDS rounds of ${DURATION}s per server"
start_node "$SERVER_CPU" MEMORY=1
port[mem]=$NODE_PORT
start_node "$SERVER_CPU" MEMORY=0 FSYNC=everysec DATA_DIR="$WORK/everysec"
port[everysec]=$NODE_PORT
start_node "$SERVER_CPU" MEMORY=0 FSYNC=always DATA_DIR="$WORK/always"
port[always]=$NODE_PORT
port[rnone]=$(free_port)
start_redis_with "${port[rnone]}" "$WORK/r-none" --save '' --appendonly no
port[reverysec]=$(free_port)
start_redis_with "${port[reverysec]}" "$WORK/r-everysec" --save '' --appendonly yes --appendfsync everysec
port[ralways]=$(free_port)
start_redis_with "${port[ralways]}" "$WORK/r-always" --save '' --appendonly yes --appendfsync always
meshkv_sides=(mem everysec always)
redis_sides=(rnone reverysec ralways)
errs=()
for r in $(seq 1 "$ROUNDS"); do
  order=("${meshkv_sides[@]}" "${redis_sides[@]}")
  [ $((r % 2)) = 0 ] && order=("${redis_sides[@]}" "${meshkv_sides[@]}")
  for side in "${order[@]}"; do
    proto=http
    [ "${side:0:1}" = r ] && proto=resp
    line=$(kvload "${port[$side]}" $proto set 50 --keys 100000 --value-bytes 100)
    log "round $r $side: $line"
    rps[$side]+="$(echo "$line" | field rps) "
    e=$(echo "$line" | field errors)
    [ "$e" = 0 ] || errs+=("$side round $r: $e errors")
  done
done
bench_cleanup
for side in "${meshkv_sides[@]}" "${redis_sides[@]}"; do
  # shellcheck disable=SC2086
  med[$side]=$(median ${rps[$side]})
done
fi  # PARTS=all

# ==================================================================================================
# 2-4. 1M records: load, restart, compaction, disk bytes
# ==================================================================================================
big=$WORK/big
bigport=$(free_port)
node_env=(PORT="$bigport" LOG_LEVEL=warn MEMORY=0 FSYNC=everysec COMPACT_MIN_BYTES="${COMPACT_MIN_BYTES:-67108864}")
log "persistence: loading $RECORDS records into meshkv-node"
start_node "$SERVER_CPU" "${node_env[@]}" DATA_DIR="$big"
t0=$(date +%s.%N)
python3 bench/load.py "127.0.0.1:$bigport" --prefix "$prefix" --count "$RECORDS" --value-bytes 256
t1=$(date +%s.%N)
have=$(status_field "$bigport" "d['availableRecords']")
[ "$have" = "$RECORDS" ] || { log "meshkv-node holds $have records, not $RECORDS"; exit 1; }
store_bytes=$(status_field "$bigport" "d['memory']['storeBytes']")
stop_pid "$NODE_PID"
log_bytes=$(du -sb "$big" | cut -f1)
cp -a "$big" "$WORK/biglog"  # the state as a log only, for the restart from the log

log "persistence: loading the same records into Redis"
rport=$(free_port)
start_redis_with "$rport" "$WORK/rdb" --save '' --appendonly no --enable-protected-configs yes
python3 "$TOOLS" resp-fill --prefix "$prefix" --count "$RECORDS" --value-bytes 256 |
  redis-cli -p "$rport" --pipe >/dev/null
[ "$(redis-cli -p "$rport" DBSIZE)" = "$RECORDS" ] || { log "Redis holds $(redis-cli -p "$rport" DBSIZE) keys"; exit 1; }
redis-cli -p "$rport" SAVE >/dev/null
redis-cli -p "$rport" CONFIG SET rdbcompression no >/dev/null
redis-cli -p "$rport" CONFIG SET dbfilename raw.rdb >/dev/null
redis-cli -p "$rport" SAVE >/dev/null
stop_pid "$REDIS_PID"
rdb_bytes=$(stat -c %s "$WORK/rdb/dump.rdb")
rdb_raw_bytes=$(stat -c %s "$WORK/rdb/raw.rdb")

log "persistence: /get p99 during compactions of the $RECORDS records"
NODE_START_TIMEOUT=120 start_node "$SERVER_CPU" "${node_env[@]}" DATA_DIR="$big"
comp_in=() comp_before=() comp_ms=() comp_n=()
if [ "$PARTS" = restart ]; then  # one compaction for the snapshot the restarts load, unobserved
  echo go | python3 "$TOOLS" compact --port "$bigport" --prefix "$prefix" --count "$RECORDS" \
    --value-bytes 256 >"$WORK/compact.out" || { log "the compaction failed"; exit 1; }
fi
for r in $(seq 1 "$ROUNDS"); do
  [ "$PARTS" = all ] || break
  fifo="$WORK/go-$r"
  mkfifo "$fifo"
  exec 9<>"$fifo"  # opened read-write first: the tool's stdin, written once ("go")
  : >"$WORK/compact-$r.out"
  python3 "$TOOLS" compact --port "$bigport" --prefix "$prefix" --count "$RECORDS" --value-bytes 256 \
    <"$fifo" >"$WORK/compact-$r.out" &
  cpid=$!
  until grep -q armed "$WORK/compact-$r.out"; do
    kill -0 "$cpid" 2>/dev/null || { log "compaction round $r: the tool ended before it was armed"; exit 1; }
    sleep 0.1
  done
  lat="$WORK/lat-$r.txt"
  kvload "$bigport" http get 10 --keys "$RECORDS" --prefix "$prefix" --lat-out "$lat" >"$WORK/get-$r.txt" &
  getpid=$!
  sleep 2  # a baseline of /get latencies without a compaction, then the trigger
  echo go >&9
  wait "$cpid" || { log "compaction round $r failed"; exit 1; }
  exec 9>&-
  read -r cstart cend < <(tail -1 "$WORK/compact-$r.out")
  wait "$getpid"
  [ "$(field errors <"$WORK/get-$r.txt")" = 0 ] || errs+=("/get during compaction $r: $(cat "$WORK/get-$r.txt")")
  read -r pin_ nin pbefore nbefore < <(python3 "$TOOLS" window "$lat" "$cstart" "$cend")
  log "compaction $r: $(((cend - cstart) / 1000)) ms, /get p99 inside $pin_ ms ($nin), before $pbefore ms ($nbefore)"
  comp_in+=("$pin_") comp_before+=("$pbefore") comp_ms+=($(((cend - cstart) / 1000))) comp_n+=("$nin")
done
snap_bytes=$(status_field "$bigport" "d['persistence']['snapshotBytes']")
stop_pid "$NODE_PID"
disk_bytes=$(du -sb "$big" | cut -f1)

mib() { awk -v b="$1" 'BEGIN {printf "%.0f MiB", b / 1048576}'; }
log "persistence: restart to ready, $ROUNDS alternated rounds"
restart_log=() restart_snap=() restart_redis=() cpu_log=() cpu_snap=() cpu_redis=()
ready_node() {  # DATA_DIR
  python3 "$TOOLS" ready --http "$bigport" -- env "${node_env[@]}" DATA_DIR="$1" \
    taskset -c "$SERVER_CPU" "$NODE_BIN"
}
ready_redis() {
  python3 "$TOOLS" ready --resp "$rport" -- taskset -c "$SERVER_CPU" redis-server --port "$rport" \
    --bind 127.0.0.1 --dir "$WORK/rdb" --dbfilename dump.rdb --save '' --appendonly no \
    --logfile "$WORK/rdb/restart.log"
}
# Each ready_* prints "<wall s> <CPU s>"; these keep them apart.
snap_round() {
  read -r w c < <(ready_node "$big") || { log "meshkv-node did not get ready on the snapshot"; exit 1; }
  restart_snap+=("$w") cpu_snap+=("$c")
}
log_round() {
  read -r w c < <(ready_node "$WORK/biglog") || { log "meshkv-node did not get ready on the log"; exit 1; }
  restart_log+=("$w") cpu_log+=("$c")
}
redis_round() {
  read -r w c < <(ready_redis) || { log "Redis did not get ready"; exit 1; }
  restart_redis+=("$w") cpu_redis+=("$c")
}
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then
    snap_round
    redis_round
  else
    redis_round
    snap_round
  fi
  log_round
  log "restart round $r: snapshot ${restart_snap[-1]} s (CPU ${cpu_snap[-1]} s), log ${restart_log[-1]} s (CPU ${cpu_log[-1]} s), Redis ${restart_redis[-1]} s (CPU ${cpu_redis[-1]} s)"
done
fi  # parts 1-4

mr_snap=$(median "${restart_snap[@]}")
mr_log=$(median "${restart_log[@]}")
mr_redis=$(median "${restart_redis[@]}")
rr=$(ratio "$mr_snap" "$mr_redis")
rr_log=$(ratio "$mr_log" "$mr_redis")
mc_snap=$(median "${cpu_snap[@]}")
mc_log=$(median "${cpu_log[@]}")
mc_redis=$(median "${cpu_redis[@]}")
both() { awk -v v="$1" -v r="$3" -v t="$2" 'BEGIN {print (v + 0 <= t + 0 && r + 0 <= 0.7) ? "yes" : "**no**"}'; }
if [ "$PARTS" = restart ]; then
  cat <<EOF
Restart to ready measured by \`PARTS=restart bench/persistence.sh\` (build \`$BUILD\`, $(git rev-parse --short HEAD 2>/dev/null || echo '?'))
on $STARTED; $(uname -srm), $(nproc) CPUs; data on $DISK ($DISK_FS); load average at start $LOAD0, at the end $(cut -d' ' -f1-3 /proc/loadavg).
$(redis-server --version | awk '{print $1, $2, $3}'). Servers on CPU $SERVER_CPU; $ROUNDS alternated rounds, medians. $RECORDS records loaded by
\`bench/load.py\` in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s, then one compaction (snapshot $(mib "$snap_bytes")).

| Figure | meshkv-node | Redis | ratio | target | met |
|---|---:|---:|---:|---:|:-:|
| restart to ready, $RECORDS records, from the snapshot | ${mr_snap} s | ${mr_redis} s (RDB) | ${rr}x | <= 1.0 s and <= 0.7x | $(both "$mr_snap" 1.0 "$rr") |
| restart to ready, $RECORDS records, from the log only | ${mr_log} s | ${mr_redis} s (RDB) | ${rr_log}x | | |
| CPU seconds until ready, from the snapshot | ${mc_snap} s | ${mc_redis} s (RDB) | $(ratio "$mc_snap" "$mc_redis")x | | |

Raw: restart s per round: snapshot ${restart_snap[*]}; log ${restart_log[*]}; Redis ${restart_redis[*]}.
CPU s (user + system, all threads, exec to ready) per round: snapshot ${cpu_snap[*]}; log ${cpu_log[*]}; Redis ${cpu_redis[*]}.
EOF
  exit 0
fi

# ==================================================================================================
# 5. rejoin by delta
# ==================================================================================================
log "persistence: rejoin after $CHANGED of $RECORDS records changed"
# Nodes on their own loopback addresses (the id is the address, so ADVERTISE_URL reaches them).
start_mesh_node() {  # ID PORT ENV...
  local id=$1 p=$2
  shift 2
  env -u MESH_NETWORK_URL PORT="$p" HOSTNAME="$id" BIND_ADDRESS="$id" LOG_LEVEL=warn "$@" \
    taskset -c "$SERVER_CPU" "$NODE_BIN" >>"$WORK/$id.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
}
wait_ready() {  # ADDR SECONDS
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$1/healthcheck")" = 200 ] && return 0
    sleep 0.05
  done
  log "$1 not ready after $2 s"
  return 1
}
digest() { curl -s "http://$1/status" | python3 -c "import json,sys; print(json.load(sys.stdin)['mesh']['digest'])"; }
A=127.0.0.31 B=127.0.0.32 C=127.0.0.33
pa=$(free_port) pb=$(free_port) pc=$(free_port)
start_mesh_node $A "$pa" MEMORY=0 DATA_DIR="$WORK/ra"
wait_ready "$A:$pa" 10
start_mesh_node $B "$pb" MEMORY=0 DATA_DIR="$WORK/rb" MESH_NETWORK_URL="http://$A:$pa"
pid_b=$NODE_PID
wait_ready "$B:$pb" 30
python3 bench/load.py "$A:$pa" --prefix "$prefix" --count "$RECORDS" --value-bytes 256
deadline=$((SECONDS + 120))
until [ "$(digest "$A:$pa")" = "$(digest "$B:$pb")" ]; do
  [ $SECONDS -lt $deadline ] || { log "the two nodes did not converge"; exit 1; }
  sleep 0.2
done
stop_pid "$pid_b"
python3 bench/load.py "$A:$pa" --prefix "$prefix" --count "$CHANGED" --value-bytes 255  # new values
t_rejoin=$(date +%s.%N)
start_mesh_node $B "$pb" MEMORY=0 DATA_DIR="$WORK/rb" MESH_NETWORK_URL="http://$A:$pa"
wait_ready "$B:$pb" 120
rejoin_s=$(awk -v a="$t_rejoin" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
read -r rj_path rj_bytes rj_rounds rj_ms < <(curl -s "http://$B:$pb/status" | python3 -c \
  "import json,sys; m=json.load(sys.stdin)['mesh']; print(m['catchUpPath'], m['catchUpBytes'], m['catchUpRounds'], m['catchUpMs'])")
b_has=$(curl -s "http://$B:$pb/get?k=${prefix}0")
start_mesh_node $C "$pc" MEMORY=1 MESH_NETWORK_URL="http://$A:$pa"
wait_ready "$C:$pc" 180
read -r full_path full_bytes full_ms < <(curl -s "http://$C:$pc/status" | python3 -c \
  "import json,sys; m=json.load(sys.stdin)['mesh']; print(m['catchUpPath'], m['catchUpBytes'], m['catchUpMs'])")
data_bytes=$(python3 -c "print(sum(len('$prefix' + str(i)) + 256 for i in range($RECORDS)))")
bench_cleanup

# ==================================================================================================
# The section
# ==================================================================================================
rj_pct=$(awk -v a="$rj_bytes" -v b="$full_bytes" 'BEGIN {printf "%.1f", 100 * a / b}')
rj_data_pct=$(awk -v a="$rj_bytes" -v b="$data_bytes" 'BEGIN {printf "%.1f", 100 * a / b}')
rejoin_md() {
  cat <<EOF
**Rejoin.** Two nodes on their own loopback addresses, each with a \`DATA_DIR\`; the $RECORDS records
written to the first and replicated; the second stopped (SIGTERM); $CHANGED records rewritten with
new values on the first; the second restarted on its data. Its \`/status\` after it turned ready:

| Figure | meshkv-node | full snapshot | ratio | target | met |
|---|---:|---:|---:|---:|:-:|
| rejoin after $CHANGED of $RECORDS changed: bytes moved (\`catchUpBytes\`) | $rj_bytes | $full_bytes | ${rj_pct} % | <= 5 % | $(verdict "$rj_pct" '<=' 5) |

The catch-up path was \`$rj_path\` in $rj_rounds anti-entropy rounds, ${rj_ms} ms (ready ${rejoin_s} s after exec);
a key changed while it was away reads $( [ ${#b_has} = 257 ] && echo 'its new value' || echo "**not its new value** (${#b_has} bytes)") there. The full snapshot is what a
new empty node joining the same cluster moved (path \`$full_path\`, ${full_ms} ms); the records' keys and
values are $data_bytes bytes (the rejoin moved ${rj_data_pct} % of that). 1 % of keys changed at
random touches most of the 4096 digest segments; for those, anti-entropy exchanges a summary of
8-byte record hashes and then only the records that differ (docs/mesh.md, Anti-entropy), so the
bytes are about 8 x the records compared plus the changed records.
EOF
}
if [ "$PARTS" = rejoin ]; then
  echo "Rejoin measured by \`PARTS=rejoin bench/persistence.sh\` (build \`$BUILD\`, $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "on $STARTED; machine: $(uname -srm), $(nproc) CPUs; load average at start $LOAD0, at the end $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  rejoin_md
  exit 0
fi
m_es=$(ratio "${med[everysec]}" "${med[mem]}")
m_al=$(ratio "${med[always]}" "${med[ralways]}")
r_es=$(ratio "${med[reverysec]}" "${med[rnone]}")
r_al=$(ratio "${med[ralways]}" "${med[rnone]}")
k_al=$(ratio "${med[always]}" "${med[mem]}")
p_in=$(median "${comp_in[@]}")
p_before=$(median "${comp_before[@]}")
mib() { awk -v b="$1" 'BEGIN {printf "%.0f MiB", b / 1048576}'; }
both() { awk -v v="$1" -v r="$3" -v t="$2" 'BEGIN {print (v + 0 <= t + 0 && r + 0 <= 0.7) ? "yes" : "**no**"}'; }
cat <<EOF
## Persistence: durability's cost, restart, compaction, rejoin (issue 12)

Measured by \`bench/persistence.sh\` (\`bench/run.sh persistence\`, build \`$BUILD\`, $(git rev-parse --short HEAD 2>/dev/null || echo '?'))
on $STARTED; machine: $(uname -srm), $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)),
$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM; data on $DISK ($DISK_FS); load average at start $LOAD0, at the end $(cut -d' ' -f1-3 /proc/loadavg).
$(redis-server --version | awk '{print $1, $2, $3}'). Servers on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU; $ROUNDS alternated rounds, medians.

**SET throughput.** One client program for both servers, \`bench/kvload.c\`: 50 connections,
one request in flight on each (no pipelining), the next sent when the answer is complete,
uniformly random keys \`key:0\`..\`key:99999\`, 100-byte values, ${DURATION} s per run; meshkv gets
\`GET /set?k=K&v=V\` (HTTP/1.1 keep-alive, a 200 counts), Redis gets \`SET K V\` (RESP, \`+OK\`
counts). wrk against meshkv and redis-benchmark against Redis would also differ in the client's
own cost per request; here only the server and its protocol differ. Redis: \`appendonly yes\` with
\`appendfsync everysec\` / \`always\`, or \`appendonly no\`; \`save ''\`. meshkv: \`FSYNC=everysec\` /
\`always\` with a fresh \`DATA_DIR\`, or \`MEMORY=1\`.

| Figure | meshkv-node | Redis | ratio | target | met |
|---|---:|---:|---:|---:|:-:|
| SET req/s, \`FSYNC=everysec\` vs memory mode | $(fmt_int "${med[everysec]}") | $(fmt_int "${med[mem]}") (meshkv memory) | ${m_es}x | >= 0.95x | $(verdict "$m_es" '>=' 0.95) |
| SET req/s, \`FSYNC=always\` vs Redis \`appendfsync always\`, 50 clients | $(fmt_int "${med[always]}") | $(fmt_int "${med[ralways]}") | ${m_al}x | >= 1.0x | $(verdict "$m_al" '>=' 1.0) |

Context, the same runs: Redis \`appendfsync everysec\` $(fmt_int "${med[reverysec]}") req/s = ${r_es}x of
Redis without AOF ($(fmt_int "${med[rnone]}")); Redis \`always\` = ${r_al}x of Redis without AOF;
meshkv \`always\` = ${k_al}x of meshkv memory mode ($(fmt_int "${med[mem]}")).
Raw req/s per round: meshkv memory ${rps[mem]% }; everysec ${rps[everysec]% }; always ${rps[always]% };
Redis no AOF ${rps[rnone]% }; everysec ${rps[reverysec]% }; always ${rps[ralways]% }.

**1M records.** $RECORDS records, keys \`<57-byte prefix>:<N>\` (59 to 64 bytes), 256-byte values
\`value:<N>xxx...\`, loaded into meshkv-node (\`FSYNC=everysec\`) by \`bench/load.py\` in
$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s, and the same key and value bytes into Redis
(\`redis-cli --pipe\`, then \`SAVE\`). Restart: from exec until \`/healthcheck\` answers 200 (Redis:
until \`PING\` answers \`+PONG\` instead of \`-LOADING\`), polled every 2 ms; files in the page cache
for both (warm restarts). /get during a compaction: \`kvload --op get -c 10\` on random keys of the
1M; the node's files are first brought just under the compaction threshold by rewriting records
(same values), then 2 s of /get, then 2,000 more rewrites start the compaction; the p99 is of the
requests sent between the moment \`/status\` showed \`compacting\` and the one it showed the snapshot
committed (polled every 10 ms).

| Figure | meshkv-node | Redis | ratio | target | met |
|---|---:|---:|---:|---:|:-:|
| restart to ready, 1M records, from the snapshot | ${mr_snap} s | ${mr_redis} s (RDB) | ${rr}x | <= 1.0 s and <= 0.7x | $(both "$mr_snap" 1.0 "$rr") |
| restart to ready, 1M records, from the log only | ${mr_log} s | ${mr_redis} s (RDB) | ${rr_log}x | | |
| CPU seconds until ready, 1M records, from the snapshot | ${mc_snap} s | ${mc_redis} s (RDB) | $(ratio "$mc_snap" "$mc_redis")x | | |
| disk bytes after compaction | $(mib "$disk_bytes") | $(mib "$rdb_bytes") (RDB, LZF) | $(ratio "$disk_bytes" "$rdb_bytes")x | report | |
| disk bytes, vs an RDB without compression | $(mib "$disk_bytes") | $(mib "$rdb_raw_bytes") (\`rdbcompression no\`) | $(ratio "$disk_bytes" "$rdb_raw_bytes")x | report | |
| \`/get\` p99 during a compaction of the 1M records | ${p_in} ms | | | < 20 ms | $(verdict "$p_in" '<=' 20) |

Raw: restart s per round: snapshot ${restart_snap[*]}; log ${restart_log[*]}; Redis ${restart_redis[*]}.
CPU s until ready (user + system, all threads; does not grow with the load) per round: snapshot ${cpu_snap[*]} (median ${mc_snap});
log ${cpu_log[*]} (median ${mc_log}); Redis ${cpu_redis[*]} (median ${mc_redis}).
Disk: the log after the load $(mib "$log_bytes") (store $(mib "$store_bytes") in memory); after compaction
the snapshot is $(mib "$snap_bytes") and the data directory $(mib "$disk_bytes"). Redis RDB $rdb_bytes bytes
(LZF compresses the repetitive values), $rdb_raw_bytes bytes without compression.
Compactions: ${comp_ms[*]} ms; /get p99 inside each ${comp_in[*]} ms (${comp_n[*]} requests), in the
2 s before each ${comp_before[*]} ms (median ${p_before} ms: the machine's floor under this client).

$(rejoin_md)
EOF
if [ ${#errs[@]} -gt 0 ]; then
  echo
  echo "**Errors seen by the clients**: ${errs[*]}."
fi
echo
