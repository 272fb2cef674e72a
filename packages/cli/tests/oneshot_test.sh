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
expect_exit 2 mk set users k v; err_has "usage: meshkv set KEY VALUE"; one_err_line
expect_exit 2 mk set k v --ttl 0; err_has "--ttl needs a positive number"; one_err_line
expect_exit 2 mk get k --ttl 5; err_has "--ttl goes with set only"; one_err_line
expect_exit 2 mk use users; err_has "use works in the shell"; one_err_line
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

# -c/--collection: every key and list command and clear work in that collection only.
expect_exit 0 mk -c users set user:1 "in users"; out_is "OK"
expect_exit 0 mk get user:1; out_is "v1"
expect_exit 0 mk get user:1 -c users; out_is "in users"
expect_exit 0 mk --collection=users set only-in-users x
expect_exit 1 mk get only-in-users; err_has "not found: only-in-users"
expect_exit 0 mk exists only-in-users -c users
expect_exit 0 mk keys -c users; out_is $'only-in-users\nuser:1'
expect_exit 0 mk all user: -c users; out_is $'user:1\tin users'
expect_exit 0 mk del only-in-users -c users
expect_exit 1 mk exists only-in-users -c users
expect_exit 0 mk clear -c users; out_is "OK"
expect_exit 0 mk keys -c users; out_is ""
expect_exit 0 mk keys user:; out_is $'user:1\nuser:2\nuser:3'  # the default collection kept
expect_exit 3 mk get k -c "$(printf "c%.0s" {1..65})"; err_has "MAXIMUM_COLLECTION_LENGTH_REACHED"
one_err_line

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
# watch -c: only that collection's changes.
"$BIN/meshkv" --node="$A" -c orders watch >"$WORK/watchc.out" 2>"$WORK/watchc.err" &
watcher=$!
watching2() { curl -fsS "http://$A/status" | grep -q '"watchers":1,"opened":2'; }
until_ok 30 watching2 || fail "the watch -c never opened: $(cat "$WORK/watchc.err")"
expect_exit 0 mk set "o:1" "default"
expect_exit 0 mk set "o:1" "an order" -c orders
until_ok 30 grep -q "^set o:1 an order$" "$WORK/watchc.out" || fail "watch -c printed: $(cat "$WORK/watchc.out")"
kill -INT "$watcher"
wait "$watcher" || fail "watch -c did not end with 0 after Ctrl-C"
[ "$(cat "$WORK/watchc.out")" = "set o:1 an order" ] || fail "watch -c printed: $(cat "$WORK/watchc.out")"

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
