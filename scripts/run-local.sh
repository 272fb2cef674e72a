#!/usr/bin/env bash
# `make run`: the local version of the compose stack, no Docker. meshkv-lb in static mode on
# port 8080 in front of three meshkv-node processes, which join the mesh through the balancer
# (as the compose nodes do through the proxy). Ctrl-C stops everything cleanly.
# Node i keeps its data in var/node<i> (DATA_DIR), so the next `make run` finds it again;
# `rm -rf var` forgets it, MEMORY=1 keeps everything in memory.
# Settings: PORT (balancer, 8080), NODES (3), NODE_BASE_PORT (8081), BIN (build/bin), LOG_LEVEL,
# VAR_DIR (var), FSYNC (everysec), MEMORY.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/bin}
LB_PORT=${PORT:-8080}
NODES=${NODES:-3}
BASE=${NODE_BASE_PORT:-8081}
VAR_DIR=${VAR_DIR:-var}
export LOG_LEVEL=${LOG_LEVEL:-info}

pids=()
stop() {
  trap - INT TERM EXIT
  echo "meshkv: stopping ${#pids[@]} processes"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

backends=()
for i in $(seq 1 "$NODES"); do
  port=$((BASE + i - 1))
  backends+=("127.0.0.1:${port}")
  PORT=$port HOSTNAME=node$i ADVERTISE_URL=http://127.0.0.1:$port DATA_DIR=$VAR_DIR/node$i \
    MESH_NETWORK_URL=http://127.0.0.1:$LB_PORT "$BIN/meshkv-node" &
  pids+=($!)
done
SERVICE_PORT=$LB_PORT BACKENDS=$(IFS=,; echo "${backends[*]}") "$BIN/meshkv-lb" &
pids+=($!)

echo "meshkv: ${NODES} nodes behind the balancer; point a client at http://127.0.0.1:${LB_PORT}" \
  "(e.g. curl 'http://127.0.0.1:${LB_PORT}/set?k=hello&v=world'); Ctrl-C stops the cluster"
echo "meshkv: open the shell with: $BIN/meshkv --node=127.0.0.1:${LB_PORT}   (or $BIN/meshkv get hello)"
wait -n "${pids[@]}" || true
