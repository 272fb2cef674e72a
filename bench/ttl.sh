#!/usr/bin/env bash
# The expiring keys' figure (issue 13, part 3), measured on loopback and written as
# docs/benchmarks/ttl.md: an empty server (or one holding KEEP keys without expiry) takes
# COUNT keys with a TTL of TTL seconds; the figure is how long after the last of them expired
# the server counts only the KEEP keys again and its VmRSS is back within 10 % of the empty
# store's (target: within 30 s), and the /get p99 meanwhile (10 closed-loop connections of
# bench/kvload.c on random keys of the expiring set, or of the KEEP keys when there are some,
# from the end of the load until the memory came back; target: under 20 ms). A /get of a key
# that expired is answered 404 (nil from Redis) and still timed. Redis (`SET .. EX`) goes through the same steps in the same run, alternated with
# meshkv ROUNDS times; the figures are medians.
# Usage: bench/ttl.sh [build-dir] [--doc]   (--doc: also write docs/benchmarks/ttl.md)
# Environment: COUNT (1000000), KEEP (0), TTL (10), VALUE_BYTES (64), ROUNDS (2), GRACE_MS
#   (unset: the node's default TOMBSTONE_GRACE_MS; it matters only after a member event, which a
#   single node never sees: docs/ttl.md).
# Every process it starts is stopped on exit (lib.sh's bench_cleanup); only 127.0.0.1 is used.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${1:-build}
DOC=${2:-}
NODE_BIN=${MESHKV_NODE_BIN:-$ROOT/$BUILD/bin/meshkv-node}
COUNT=${COUNT:-1000000}
KEEP=${KEEP:-0}
TTL=${TTL:-10}
VALUE_BYTES=${VALUE_BYTES:-64}
ROUNDS=${ROUNDS:-2}
GRACE_MS=${GRACE_MS:-}
# What the readers get: the KEEP keys when there are some, else the expiring ones.
if [ "$KEEP" = 0 ]; then
  GET_KEYS=$COUNT GET_PREFIX=ttl: GET_WHAT="the $COUNT expiring keys"
else
  GET_KEYS=$KEEP GET_PREFIX=keep: GET_WHAT="the $KEEP keys without expiry"
fi
WORK=$(mktemp -d /tmp/meshkv-ttl-bench-XXXXXX)
TOOLS=bench/ttl_tools.py
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
trap 'bench_cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
[ -x "$NODE_BIN" ] || { echo "no meshkv-node at $NODE_BIN" >&2; exit 2; }
for tool in redis-server redis-cli curl python3 taskset cc; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/deps.sh bench" >&2; exit 2; }
done
cc -O2 -o "$WORK/kvload" bench/kvload.c

now_us() { date +%s%6N; }
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {if (a < 0 || b < 0) print "never"; else printf "%.1f", (a - b) / 1e6}'; }

# measure SIDE (meshkv | redis): one round. Sets R_BASE, R_PEAK, R_END (kB), R_COUNTED and
# R_RECLAIMED (s after the last key expired, or "never"), R_P99, R_P99_N, R_LOAD (s), R_STORE.
# Not in $(...): the start_* helpers must record their pids in this shell.
measure() {
  local side=$1 port pid t0 t1 expired_us deadline lat="$WORK/lat-$1-$RANDOM.txt" proto
  if [ "$side" = meshkv ]; then
    start_node "$SERVER_CPU" ${GRACE_MS:+TOMBSTONE_GRACE_MS="$GRACE_MS"} || return 1
    port=$NODE_PORT pid=$NODE_PID proto=http
    [ "$KEEP" = 0 ] || python3 bench/load.py "127.0.0.1:$port" --prefix keep: --count "$KEEP" --value-bytes 16 || return 1
  else
    port=$(free_port)
    start_redis "$port" || return 1
    pid=$REDIS_PID proto=resp
    [ "$KEEP" = 0 ] || redis-cli -p "$port" DEBUG POPULATE "$KEEP" keep 16 >/dev/null
  fi
  # The readers start first, so the "empty" reading already has their 10 connections; their
  # latencies are cut to the window from the end of the load on (persist_tools.py window).
  # taskset, not the pin function: $! must be kvload itself, which SIGINT ends early.
  taskset -c "$CLIENT_CPU" "$WORK/kvload" --port "$port" --proto "$proto" --op get -c 10 \
    -d $((TTL + 600)) --keys "$GET_KEYS" --prefix "$GET_PREFIX" --lat-out "$lat" >"$WORK/get.txt" &
  local getpid=$!
  sleep 1  # let the allocator settle before the "empty" reading
  R_BASE=$(vmrss_kb "$pid")
  t0=$(now_us)
  if [ "$side" = meshkv ]; then
    python3 bench/load.py "127.0.0.1:$port" --prefix ttl: --count "$COUNT" \
      --value-bytes "$VALUE_BYTES" --ttl "$TTL" --conns 2 || return 1
  else
    python3 bench/persist_tools.py resp-fill --prefix ttl: --count "$COUNT" \
      --value-bytes "$VALUE_BYTES" --ttl "$TTL" | redis-cli -p "$port" --pipe >"$WORK/pipe.log" || return 1
  fi
  t1=$(now_us)
  R_LOAD=$(secs "$t1" "$t0")
  expired_us=$((t1 + TTL * 1000000))
  deadline=$(((expired_us / 1000000) + 30 + 15))
  read -r counted reclaimed R_END R_PEAK R_STORE < <(python3 "$TOOLS" watch --pid "$pid" \
    --base-rss "$R_BASE" --keep "$KEEP" --deadline "$deadline" \
    $([ "$side" = meshkv ] && echo --http "$port" || echo --redis "$port"))
  local stop_us
  stop_us=$([ "$reclaimed" -ge 0 ] && echo "$reclaimed" || now_us)
  kill -INT "$getpid" 2>/dev/null || true
  wait "$getpid" 2>/dev/null || true
  [ "$KEEP" = 0 ] || [ "$(field errors <"$WORK/get.txt")" = 0 ] || log "$side: /get errors: $(cat "$WORK/get.txt")"
  R_COUNTED=$(secs "$counted" "$expired_us")
  R_RECLAIMED=$(secs "$reclaimed" "$expired_us")
  read -r R_P99 R_P99_N _ _ < <(python3 bench/persist_tools.py window "$lat" "$t1" "$stop_us")
  stop_pid "$pid"
}

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A base peak endrss counted reclaimed p99 loadsec store
for r in $(seq 1 "$ROUNDS"); do
  order=(meshkv redis)
  [ $((r % 2)) = 0 ] && order=(redis meshkv)
  for side in "${order[@]}"; do
    log "round $r: $side, $COUNT keys with a ${TTL} s TTL over $KEEP without"
    measure "$side" || { log "$side round $r failed"; exit 1; }
    log "$side: load ${R_LOAD} s; counted ${R_COUNTED} s and RSS back ${R_RECLAIMED} s after" \
      "the last expiry; RSS empty ${R_BASE} kB, peak ${R_PEAK}, end ${R_END}; /get p99 ${R_P99} ms (${R_P99_N})"
    base[$side]+="$R_BASE " peak[$side]+="$R_PEAK " endrss[$side]+="$R_END "
    counted[$side]+="$R_COUNTED " reclaimed[$side]+="$R_RECLAIMED " p99[$side]+="$R_P99 "
    loadsec[$side]+="$R_LOAD " store[$side]+="$R_STORE "
  done
done

# med VALUES...: the median, "never" if any round never got there.
med() {
  case " $* " in *" never "*) echo never ;; *) median "$@" ;; esac
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# shellcheck disable=SC2086
{
  m_rec=$(med ${reclaimed[meshkv]}) r_rec=$(med ${reclaimed[redis]})
  m_cnt=$(med ${counted[meshkv]}) r_cnt=$(med ${counted[redis]})
  m_p99=$(med ${p99[meshkv]}) r_p99=$(med ${p99[redis]})
  m_base=$(med ${base[meshkv]}) r_base=$(med ${base[redis]})
  m_peak=$(med ${peak[meshkv]}) r_peak=$(med ${peak[redis]})
  m_end=$(med ${endrss[meshkv]}) r_end=$(med ${endrss[redis]})
  m_load=$(med ${loadsec[meshkv]}) r_load=$(med ${loadsec[redis]})
}
ok() { awk -v v="$1" -v t="$2" 'BEGIN {if (v == "never" || v == "nan") print "**no**"; else print (v + 0 <= t) ? "yes" : "**no**"}'; }

section() {
  cat <<EOF
## Expiring keys: reclaiming 1M expired keys (issue 13)

Measured by \`bench/ttl.sh${DOC:+ $BUILD $DOC}\` (build \`$BUILD\`, $(git rev-parse --short HEAD 2>/dev/null || echo '?'))
on $started; machine: $(uname -srm), $(nproc) CPUs, $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM; load average at start $load_at_start.

One server at a time on CPU $SERVER_CPU (meshkv-node in memory mode, ${GRACE_MS:+defaults but \`TOMBSTONE_GRACE_MS=$GRACE_MS\`}${GRACE_MS:-default settings}; Redis
\`--save ''\`), clients on CPU $CLIENT_CPU. Each round: $KEEP keys without expiry (the "empty"
store; 16-byte values), VmRSS read, then $COUNT keys of $VALUE_BYTES-byte values with a ${TTL} s
TTL (meshkv: \`bench/load.py --ttl $TTL\`, pipelined \`/set?..&ttl=$TTL\`; Redis: \`SET .. EX $TTL\`
through \`redis-cli --pipe\`). From the end of the load, \`bench/kvload.c\` reads random keys
($GET_WHAT; \`--op get -c 10\`, one request in flight per connection; an expired key's 404 or
nil is timed like a hit) while \`bench/ttl_tools.py watch\` polls every 0.2 s: the time the
server counts only the $KEEP keys (meshkv \`/status\` availableRecords, Redis \`INFO\` keys=) and
the time its VmRSS is back within 10 % of the empty reading, both counted from the moment the
last key expired (end of the load + ${TTL} s).
meshkv drops an expired record once every live member has had it for the expiry lag (here
11 s after the write on one node, a second past the TTL); for the grace period after a member event (a node died,
restarted, came back, left or was evicted) only once it is older than \`TOMBSTONE_GRACE_MS\`,
as tombstones are (docs/ttl.md, "Dropping expired records safely"). This run is the quiet
steady state: one node, no member event.
$ROUNDS rounds, meshkv first in odd rounds; medians.

| Figure | meshkv | Redis | target | met |
|---|---:|---:|---:|:-:|
| reclaimed: RSS within 10 % of empty, s after the last expiry | $m_rec | $r_rec | <= 30 | $(ok "$m_rec" 30) |
| \`/get\` p99 from the load's end until reclaimed, ms | $m_p99 | $r_p99 | < 20 | $(ok "$m_p99" 19.999) |
| only the keys without expiry counted, s after the last expiry | $m_cnt | $r_cnt | report | — |
| VmRSS empty / peak / after, MiB | $(mib "$m_base") / $(mib "$m_peak") / $(mib "$m_end") | $(mib "$r_base") / $(mib "$r_peak") / $(mib "$r_end") | report | — |
| load of the $COUNT keys, s | $m_load | $r_load | report | — |

Raw per round (meshkv | Redis): reclaimed ${reclaimed[meshkv]}| ${reclaimed[redis]}; counted
${counted[meshkv]}| ${counted[redis]}; p99 ${p99[meshkv]}| ${p99[redis]}; RSS kB empty
${base[meshkv]}| ${base[redis]}, peak ${peak[meshkv]}| ${peak[redis]}, after ${endrss[meshkv]}| ${endrss[redis]};
store bytes after (meshkv storeBytes | Redis used_memory) ${store[meshkv]}| ${store[redis]}.
"Never" means not within 45 s of the last expiry. A negative time means the moment came before
the last key's expiry (the count can drop as soon as each key expires).
EOF
}

section
if [ "$DOC" = --doc ]; then
  section >docs/benchmarks/ttl.md
  bench/run.sh assemble
fi
