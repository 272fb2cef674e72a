#!/usr/bin/env bash
# meshkv on Docker Swarm (`make swarm-up` / `make swarm-down`, and the Swarm e2e):
#   scripts/swarm.sh up     init a single-node swarm if none is active, deploy docker-stack.yaml
#                           as STACK (default meshkv) with the local images, wait until every
#                           node is healthy and the balancer answers on MESHKV_PUBLISH (8080)
#   scripts/swarm.sh down   remove STACK and wait until its containers and network are gone;
#                           leave the swarm only if `up`/`init` created it and nothing else runs
#   scripts/swarm.sh init | release    just the swarm part (the e2e deploys its own stack)
# The engine's state is the record: `init` labels the swarm node meshkv.swarm-init=<how> when it
# created the swarm, so `release` never leaves a swarm someone else made, even after a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK=${STACK:-meshkv}
export MESHKV_PUBLISH=${MESHKV_PUBLISH:-8080}
LABEL=meshkv.swarm-init

say() { echo "swarm: $*"; }
node_id() { docker info --format '{{.Swarm.NodeID}}'; }
swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

init() {
  local state gw=old
  state=$(swarm_state)
  if [ "$state" = active ]; then
    say "a swarm is active; using it (it stays when done)"
    return
  fi
  docker network inspect docker_gwbridge >/dev/null 2>&1 || gw=new
  say "no active swarm ($state): docker swarm init (single node, 127.0.0.1)"
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
  docker node update --label-add "$LABEL=gwbridge-$gw" "$(node_id)" >/dev/null
}

release() {
  [ "$(swarm_state)" = active ] || return 0
  local how
  how=$(docker node inspect "$(node_id)" --format "{{index .Spec.Labels \"$LABEL\"}}" 2>/dev/null || true)
  if [ -z "$how" ]; then
    say "the swarm was there before; leaving it active"
    return
  fi
  if [ -n "$(docker service ls -q)" ]; then
    say "other services run on the swarm this created; leaving it active"
    return
  fi
  say "leaving the swarm that init created"
  docker swarm leave --force >/dev/null
  if [ "$how" = gwbridge-new ]; then
    # Swarm made docker_gwbridge for its containers; remove it once nothing else uses it.
    local users
    for _ in $(seq 1 30); do
      docker network inspect docker_gwbridge >/dev/null 2>&1 || break
      users=$(docker network inspect docker_gwbridge --format '{{range .Containers}}{{.Name}} {{end}}' 2>/dev/null || true)
      # The ingress sandbox's endpoint can outlive the swarm (a known engine bug): cut it.
      if [ "$users" = "gateway_ingress-sbox " ]; then
        docker network disconnect -f docker_gwbridge gateway_ingress-sbox >/dev/null 2>&1 || true
        users=""
      fi
      if [ -z "$users" ] && docker network rm docker_gwbridge >/dev/null 2>&1; then break; fi
      sleep 1
    done
  fi
}

# wait_gone STACK: the stack's containers (stop_grace_period) and network, then their volumes.
wait_gone() {
  local stack=$1 vols ids
  vols=$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack" |
    xargs -r docker inspect --format '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}' 2>/dev/null || true)
  docker stack rm "$stack" >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do
    ids=$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")
    [ -z "$ids" ] && break
    sleep 1
  done
  ids=$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  for _ in $(seq 1 30); do
    [ -z "$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")" ] && break
    docker network ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker network rm >/dev/null 2>&1 || true
    sleep 1
  done
  for v in $vols; do docker volume rm "$v" >/dev/null 2>&1 || true; done
}

up() {
  for img in node lb; do
    docker image inspect "meshkv/$img:${MESHKV_TAG:-local}" >/dev/null 2>&1 ||
      { echo "swarm: image meshkv/$img:${MESHKV_TAG:-local} missing (make images)" >&2; exit 1; }
  done
  init
  say "deploying stack $STACK (balancer on port $MESHKV_PUBLISH)"
  local out
  out=$(docker stack deploy --resolve-image never -c docker-stack.yaml "$STACK" 2>&1) ||
    { echo "$out" >&2; exit 1; }
  grep -v -i detach <<<"$out" || true
  local want i running
  want=$(docker service inspect "${STACK}_database" --format '{{.Spec.Mode.Replicated.Replicas}}')
  for i in $(seq 1 120); do
    running=$(docker service ps "${STACK}_database" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running' || true)
    if [ "$running" = "$want" ] && curl -fsS -m 2 "http://127.0.0.1:$MESHKV_PUBLISH/status" >/dev/null 2>&1; then
      say "up: $want nodes healthy, http://127.0.0.1:$MESHKV_PUBLISH (admin of the balancer: port 8081 inside)"
      return
    fi
    sleep 1
  done
  echo "swarm: the stack did not become ready in 120 s (docker service ps ${STACK}_database)" >&2
  exit 1
}

down() {
  if [ "$(swarm_state)" = active ] && docker stack ls --format '{{.Name}}' | grep -qx "$STACK"; then
    say "removing stack $STACK"
    wait_gone "$STACK"
  fi
  release
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  init) init ;;
  release) release ;;
  wait-gone) wait_gone "${2:?stack}" ;;
  *) echo "usage: scripts/swarm.sh up|down|init|release|wait-gone STACK" >&2; exit 2 ;;
esac
