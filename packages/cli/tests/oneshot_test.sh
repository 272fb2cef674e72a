#!/usr/bin/env bash
# cli_oneshot: `meshkv` one-shot commands as a script would use them, against real nodes: the
# value alone on stdout for get, the exit statuses (0 ok, 1 not found, 2 usage, 3 network) each
# with one line on stderr, --json, tables, MESHKV_URL, and `join` merging two single nodes.
set -uo pipefail
BIN=$(cd "${1:?usage: oneshot_test.sh <bindir>}" && pwd)
source "$(dirname "$0")/lib.sh"

start_node 127.0.0.31
A=127.0.0.31:$NODE_PORT
# A generous timeout: on a loaded machine (sanitizers, shared cores) a node can stall seconds.
mk() { "$BIN/meshkv" --node="$A" --timeout=30000 "$@"; }

expect_exit 0 mk set greeting "hello world"; out_is "OK"
expect_exit 0 mk get greeting; out_is "hello world"
v=$("$BIN/meshkv" --node="$A" get greeting) || fail "get in \$(...)"
[ "$v" = "hello world" ] || fail "captured '$v'"
expect_exit 0 mk get greeting --json; out_is '"hello world"'
expect_exit 0 env MESHKV_URL="http://$A" "$BIN/meshkv" get greeting; out_is "hello world"
expect_exit 0 mk set "key with spaces" 'a+b=c&d'; expect_exit 0 mk get "key with spaces"; out_is 'a+b=c&d'

expect_exit 1 mk get nope; out_is ""; err_has "not found: nope"; one_err_line
expect_exit 1 mk exists nope; one_err_line
expect_exit 0 mk exists greeting
expect_exit 2 mk set users k v; err_has "not supported by this server yet"; one_err_line
expect_exit 2 mk set k v --ttl 5; err_has "--ttl is not supported"; one_err_line
expect_exit 2 mk get; err_has "usage: meshkv get KEY"; one_err_line
expect_exit 2 mk frobnicate; err_has "unknown command"; one_err_line
expect_exit 3 "$BIN/meshkv" --node=127.0.0.1:1 --timeout=2000 get k; err_has "error: UNAVAILABLE"
one_err_line
expect_exit 3 mk set "" v; err_has "EMPTY_KEY"; one_err_line
expect_exit 0 mk set wq v --w=quorum --json; out_is '{"success":true}'
expect_exit 3 mk set wq v --w=most; err_has "INVALID_WRITE_CONCERN"; one_err_line
expect_exit 0 mk del wq

for i in 3 1 2; do mk set "user:$i" "v$i" >/dev/null || fail "set user:$i"; done
expect_exit 0 mk keys user:; out_is $'user:1\nuser:2\nuser:3'
expect_exit 0 mk keys user: --json; out_is '["user:1","user:2","user:3"]'
expect_exit 0 mk all user:2; out_is $'user:2\tv2'
expect_exit 0 mk stats; grep -q $'^records\t5$' "$WORK/out" || fail "stats: $(cat "$WORK/out")"
expect_exit 0 mk stats --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["availableRecords"]==5' \
  "$WORK/out" || fail "stats --json: $(cat "$WORK/out")"
expect_exit 0 mk members; grep -q "^127.0.0.31"$'\t'"http://127.0.0.31:$NODE_PORT"$'\talive' "$WORK/out" ||
  fail "members: $(cat "$WORK/out")"
expect_exit 0 mk del greeting; out_is "OK"
expect_exit 1 mk del greeting; err_has "not found: greeting"

# watch: a change made afterwards is printed as it happens; Ctrl-C ends it with exit 0.
"$BIN/meshkv" --node="$A" watch "w:" >"$WORK/watch.out" 2>"$WORK/watch.err" &
watcher=$!
watching() { curl -fsS "http://$A/status" | grep -q '"watchers":1'; }
until_ok 30 watching || fail "the watch never opened: $(cat "$WORK/watch.err")"
expect_exit 0 mk set "w:1" "first"
expect_exit 0 mk set "other" "not watched"
expect_exit 0 mk del "w:1"
until_ok 30 grep -q "^rm w:1$" "$WORK/watch.out" || fail "watch printed: $(cat "$WORK/watch.out")"
kill -INT "$watcher"
wait "$watcher"; rc=$?
[ "$rc" -eq 0 ] || fail "watch ended with $rc after Ctrl-C: $(cat "$WORK/watch.err")"
[ "$(cat "$WORK/watch.out")" = $'set w:1 first\nrm w:1' ] || fail "watch printed: $(cat "$WORK/watch.out")"
expect_exit 3 "$BIN/meshkv" --node=127.0.0.1:1 --timeout=2000 watch; err_has "error: UNAVAILABLE"

# join: a second single node is told about the first; both then list two alive members.
start_node 127.0.0.32
B=127.0.0.32:$NODE_PORT
expect_exit 0 "$BIN/meshkv" --node="$B" join "$A"; out_is "OK: the node contacts $A"
alive_on() { [ "$("$BIN/meshkv" --node="$1" members | grep -c $'\talive')" -eq 2 ]; }
until_ok 30 alive_on "$A" || fail "A never saw B: $("$BIN/meshkv" --node="$A" members)"
until_ok 30 alive_on "$B" || fail "B never saw A"
until_ok 30 test "$("$BIN/meshkv" --node="$B" get "key with spaces" 2>/dev/null)" = 'a+b=c&d' ||
  fail "B never got A's data"
echo "cli_oneshot: ok"
