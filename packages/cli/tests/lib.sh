# Shared by the CLI tests: start meshkv-node processes on loopback (PORT=0 + --port-file, the
# harness's way), wait on conditions with deadlines, stop everything on exit. Sourced, not run.
# Each node gets its own loopback address (127.0.0.X: its id and what it binds), joins nothing
# (a dead seed) and waits in its mesh for `meshkv join`.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshkv-cli.XXXXXX")
pids=()
export LOG_LEVEL=${LOG_LEVEL:-warn}

cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$WORK"/*.log; do [ -s "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }; done
  exit 1
}

# until_ok SECONDS CMD...: runs CMD every 20 ms until it succeeds; fails after the deadline.
until_ok() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.02
  done
}

# start_node HOST: starts meshkv-node bound to HOST on a free port; sets NODE_PORT.
start_node() {
  local host=$1 pf="$WORK/$1.port"
  PORT=0 HOSTNAME=$host BIND_ADDRESS=$host MEMORY=1 \
    PROBE_INTERVAL_MS=200 PROBE_TIMEOUT_MS=150 SUSPICION_TIMEOUT_MS=1000 JOIN_RETRY_MS=20 \
    "$BIN/meshkv-node" --port-file "$pf" >"$WORK/$host.log" 2>&1 &
  pids+=($!)
  until_ok 30 test -s "$pf" || fail "node $host did not start"
  NODE_PORT=$(cat "$pf")
  until_ok 30 curl -fsS -m 1 -o /dev/null "http://$host:$NODE_PORT/healthcheck" 2>/dev/null ||
    fail "node $host never became healthy"
}

# expect_exit CODE CMD...: runs CMD with stdout in $WORK/out and stderr in $WORK/err.
expect_exit() {
  local want=$1
  shift
  "$@" >"$WORK/out" 2>"$WORK/err"
  local got=$?
  [ "$got" -eq "$want" ] ||
    fail "'$*' exited $got, wanted $want; stdout: $(cat "$WORK/out"); stderr: $(cat "$WORK/err")"
}
out_is() { [ "$(cat "$WORK/out")" = "$1" ] || fail "stdout '$(cat "$WORK/out")', wanted '$1'"; }
err_has() { grep -q -- "$1" "$WORK/err" || fail "stderr '$(cat "$WORK/err")' lacks '$1'"; }
one_err_line() { [ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "stderr is not one line: $(cat "$WORK/err")"; }
