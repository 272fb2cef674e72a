#!/usr/bin/env bash
# cli_repl: the `meshkv` shell driven in a real terminal, as a person would: tmux starts it in a
# detached session, send-keys types (Tab, Up, Ctrl-C, Ctrl-D included) and capture-pane reads
# the screen. Checks quoted words with spaces, Tab completion of commands and of keys by
# prefix, history (Up recalls, the file keeps it), help, Ctrl-C dropping the line, Ctrl-D
# leaving. Without tmux it skips with a message (scripts/deps.sh installs it; CI must run it).
set -uo pipefail
BIN=$(cd "${1:?usage: repl_test.sh <bindir>}" && pwd)
if ! command -v tmux >/dev/null; then
  if [ -n "${CI:-}" ]; then echo "cli_repl: tmux is missing in CI" >&2; exit 1; fi
  echo "cli_repl: SKIPPED: tmux is not installed (scripts/deps.sh build installs it)"
  exit 0
fi
source "$(dirname "$0")/lib.sh"

start_node 127.0.0.33
URL=127.0.0.33:$NODE_PORT
"$BIN/meshkv" --node="$URL" set zeta-only "last letter" >/dev/null || fail "seed zeta-only"
"$BIN/meshkv" --node="$URL" set user:alpha 1 >/dev/null || fail "seed user:alpha"
"$BIN/meshkv" --node="$URL" set user:beta 2 >/dev/null || fail "seed user:beta"

SOCK="meshkv-repl-$$"
T=(tmux -L "$SOCK" -f /dev/null)
stop_tmux() { "${T[@]}" kill-server 2>/dev/null || true; }
trap 'stop_tmux; cleanup' EXIT
"${T[@]}" new-session -d -s repl -x 160 -y 50 \
  "env TERM=screen HOME=$WORK MESHKV_URL=$URL ASAN_OPTIONS=${ASAN_OPTIONS:-} $BIN/meshkv --timeout=30000;
   echo \$? >$WORK/exit-status" ||
  fail "tmux could not start"
"${T[@]}" set-option -t repl remain-on-exit on >/dev/null

screen() { "${T[@]}" capture-pane -p -t repl -S -200; }
has() { screen | grep -qF -- "$1"; }
type_keys() { "${T[@]}" send-keys -t repl "$@"; }
see() { until_ok 60 has "$1" || fail "never saw '$1' on screen:"$'\n'"$(screen)"; }
# The line being edited (the last prompt line on the screen).
last_prompt() { screen | grep -F "meshkv $URL>" | tail -n 1; }
# capture-pane drops trailing spaces, so the wanted line is compared without them too.
line_is() {
  local want="meshkv $URL> $1"
  want="${want%"${want##*[! ]}"}"
  [ "$(last_prompt)" = "$want" ]
}
expect_line() { until_ok 60 line_is "$1" || fail "edit line is '$(last_prompt)', wanted '$1'"; }
# Types a line and Enter, then waits for the next prompt (keys typed while a command runs
# could be dropped when libedit switches the terminal back to raw mode; a person waits too).
enter() {
  type_keys "$@" Enter
  expect_line ""
}

see "meshkv $URL>"

enter 'set "my key" "hello there, world"'
see "OK"
enter 'get "my key"'
see "hello there, world"

# Tab completes a command, then a key by prefix.
type_keys 'ge' Tab
expect_line "get "
type_keys 'zet' Tab
expect_line "get zeta-only "
enter
see "last letter"
# Two keys share the prefix: the common part is completed, a second Tab lists both.
type_keys 'get us' Tab
expect_line "get user:"
type_keys Tab
until_ok 60 bash -c "tmux -L $SOCK capture-pane -p -t repl | grep -q 'user:alpha.*user:beta'" ||
  fail "no list of both keys: $(screen)"
enter 'b' Tab
see "meshkv $URL> get user:beta"

# Ctrl-C drops the line being typed; nothing is run.
type_keys 'get never-run' C-c
see "^C"
expect_line ""
enter 'help'
see "commands:"
has "not found: never-run" && fail "Ctrl-C ran the line"

# Not found and usage errors are one line each and the shell goes on.
enter 'get missing'
see "meshkv: not found: missing"
enter 'set users k v'
see "usage: meshkv set KEY VALUE"

# Up recalls the last command.
type_keys Up
expect_line "set users k v"
enter C-u 'stats'
see "records"

# `use` switches the collection (the prompt shows it; keys complete from it); `use` alone goes
# back to the default collection.
type_keys 'use users' Enter
see "meshkv $URL/users>"
type_keys 'set user:gamma "in users"' Enter
two_oks() { [ "$(screen | grep -c '^OK$')" -ge 2 ]; }
until_ok 60 two_oks || fail "set in users: $(screen)"
type_keys 'get user:g' Tab
until_ok 60 bash -c "tmux -L $SOCK capture-pane -p -t repl | grep -qF '/users> get user:gamma'" ||
  fail "no completion from users: $(screen)"
type_keys Enter
see "in users"
type_keys 'use' Enter
type_keys 'get user:gamma' Enter
see "meshkv: not found: user:gamma"
expect_line ""

# Ctrl-D leaves; the history file kept the commands.
type_keys C-d
until_ok 20 test -s "$WORK/exit-status" || fail "Ctrl-D did not leave: $(screen)"
[ "$(cat "$WORK/exit-status")" = 0 ] || fail "the shell exited $(cat "$WORK/exit-status"): $(screen)"
grep -q 'get.040zeta-only' "$WORK/.meshkv_history" || fail "history file: $(cat "$WORK/.meshkv_history")"
echo "cli_repl: ok"
