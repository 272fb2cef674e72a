#!/usr/bin/env bash
# The memory cost of a record in a collection (issue 13, collections), measured on loopback and
# written as docs/benchmarks/collections.md: one meshkv-node is loaded with COUNT records in the
# default collection, another with the same records in collection `c` (c=c on every /set), and
# the two are compared by the store's own accounting (/status memory.storeBytes) and by VmRSS,
# per record. The two loads alternate ROUNDS times (default first, then the collection, ...);
# the figures are medians. Target: a record in a collection costs <= 8 bytes more.
# Usage: bench/collections.sh [build-dir] [--doc|--append]   (--doc: also write the section file;
#   --append: add this run to it as a further table, e.g. another VALUE_BYTES)
# Environment: COUNT (1000000), ROUNDS (3), VALUE_BYTES (64).
# Every process it starts is stopped on exit (lib.sh's bench_cleanup); only 127.0.0.1 is used.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${1:-build}
DOC=${2:-}
NODE_BIN=${MESHKV_NODE_BIN:-$ROOT/$BUILD/bin/meshkv-node}
COUNT=${COUNT:-1000000}
ROUNDS=${ROUNDS:-3}
VALUE_BYTES=${VALUE_BYTES:-64}
WORK=$(mktemp -d /tmp/meshkv-coll-bench-XXXXXX)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
trap 'bench_cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
[ -x "$NODE_BIN" ] || { echo "no meshkv-node at $NODE_BIN" >&2; exit 2; }

status_field() {  # status_field PORT PYTHON-EXPR-ON-s
  curl -s "http://127.0.0.1:$1/status" | python3 -c "import json,sys; s=json.load(sys.stdin); print($2)"
}

# measure COLLECTION: loads COUNT records into a fresh node; sets M_STORE, M_RSS (kB), M_BSTORE,
# M_BRSS (the empty node's). Not in $(...): start_node must record the pid in this shell.
measure() {
  local coll=$1 port pid have
  start_node "$SERVER_CPU" || return 1
  port=$NODE_PORT pid=$NODE_PID
  M_BSTORE=$(status_field "$port" 's["memory"]["storeBytes"]')
  M_BRSS=$(vmrss_kb "$pid")
  python3 bench/load.py "127.0.0.1:$port" --prefix "bench:" --count "$COUNT" \
    --value-bytes "$VALUE_BYTES" ${coll:+--collection "$coll"} || return 1
  if [ -z "$coll" ]; then
    have=$(status_field "$port" 's["availableRecords"]')
  else
    have=$(status_field "$port" "[c['records'] for c in s['collections'] if c['name']=='$coll'][0]")
  fi
  [ "$have" = "$COUNT" ] || { log "the node holds $have records, not $COUNT"; return 1; }
  M_STORE=$(status_field "$port" 's["memory"]["storeBytes"]')
  M_RSS=$(vmrss_kb "$pid")
  stop_pid "$pid"
}

per_record() { awk -v a="$1" -v b="$2" -v n="$COUNT" 'BEGIN {printf "%.2f", (a - b) / n}'; }

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
declare -a dstore=() drss=() cstore=() crss=() diff_store=() diff_rss=()
for r in $(seq 1 "$ROUNDS"); do
  log "round $r: $COUNT records in the default collection"
  measure "" || exit 1
  s1=$M_STORE r1=$M_RSS bs1=$M_BSTORE br1=$M_BRSS
  log "round $r: $COUNT records in collection c"
  measure "c" || exit 1
  s2=$M_STORE r2=$M_RSS bs2=$M_BSTORE br2=$M_BRSS
  dstore+=("$(per_record "$s1" "$bs1")")
  cstore+=("$(per_record "$s2" "$bs2")")
  drss+=("$(per_record "$((r1 * 1024))" "$((br1 * 1024))")")
  crss+=("$(per_record "$((r2 * 1024))" "$((br2 * 1024))")")
  diff_store+=("$(awk -v a="$s2" -v b="$s1" -v ba="$bs2" -v bb="$bs1" -v n="$COUNT" \
    'BEGIN {printf "%.2f", ((a - ba) - (b - bb)) / n}')")
  diff_rss+=("$(awk -v a="$r2" -v b="$r1" -v ba="$br2" -v bb="$br1" -v n="$COUNT" \
    'BEGIN {printf "%.2f", ((a - ba) - (b - bb)) * 1024 / n}')")
  log "round $r: store bytes/record default ${dstore[-1]}, collection ${cstore[-1]}; RSS bytes/record default ${drss[-1]}, collection ${crss[-1]}"
done
load_at_end=$(cut -d' ' -f1-3 /proc/loadavg)

m_dstore=$(median "${dstore[@]}")
m_cstore=$(median "${cstore[@]}")
m_drss=$(median "${drss[@]}")
m_crss=$(median "${crss[@]}")
m_diff_store=$(median "${diff_store[@]}")
m_diff_rss=$(median "${diff_rss[@]}")
met() { awk -v v="$1" 'BEGIN {print (v <= 8) ? "yes" : "**no**"}'; }

section() {
  if [ "$DOC" != "--append" ]; then
    echo "## Collections: memory per record (issue 13)"
    echo
  else
    echo
    echo "### With values of $VALUE_BYTES bytes"
    echo
  fi
  echo "Measured by \`COUNT=$COUNT VALUE_BYTES=$VALUE_BYTES ROUNDS=$ROUNDS bench/collections.sh $BUILD${DOC:+ $DOC}\`"
  echo "($(git rev-parse --short HEAD)) on $started;"
  echo "machine: $(uname -srm), $(nproc) CPUs ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)),"
  echo "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM; load average $load_at_start at start, $load_at_end at the end (shared machine)."
  echo
  echo "$(fmt_int "$COUNT") records, keys \`bench:<N>\` (7 to 12 bytes), values of $VALUE_BYTES bytes, loaded"
  echo "over HTTP by \`bench/load.py\` into a fresh memory-mode node: once in the default collection,"
  echo "once in collection \`c\` (\`&c=c\` on every \`/set\`), alternated $ROUNDS times; medians. Bytes per"
  echo "record = (loaded - empty) / records, from the store's own accounting (\`/status\`"
  echo "\`memory.storeBytes\`: arena + index) and from \`VmRSS\`."
  echo
  echo "| Figure | default collection | collection \`c\` | difference | target | met |"
  echo "|---|---:|---:|---:|---:|:-:|"
  echo "| store bytes per record | $m_dstore | $m_cstore | $m_diff_store | <= 8 | $(met "$m_diff_store") |"
  echo "| VmRSS bytes per record | $m_drss | $m_crss | $m_diff_rss | | |"
  echo
  echo "Raw, per round (default / collection): store ${dstore[*]} / ${cstore[*]};"
  echo "RSS ${drss[*]} / ${crss[*]}. The engine key of a collection's record is 0xFF + a one-byte id"
  echo "(the first 128 collections) + the key: 2 bytes more, which the arena's block rounding may or"
  echo "may not absorb: a block is 16 + key + value rounded up to 8 bytes, so a record costs 0 or 8"
  echo "bytes more depending on where its length falls (8 when 16 + key + value is 7 or 0 mod 8)."
  echo "An empty collection costs only its table entry (docs/collections.md)."
}

section
if [ "$DOC" = "--doc" ]; then
  section >"$ROOT/docs/benchmarks/collections.md"
  log "wrote docs/benchmarks/collections.md"
elif [ "$DOC" = "--append" ]; then
  section >>"$ROOT/docs/benchmarks/collections.md"
  log "appended to docs/benchmarks/collections.md"
fi
