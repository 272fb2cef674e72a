// The interactive shell `meshkv` opens when started without a command: libedit's readline
// (line editing, history in ~/.meshkv_history or MESHKV_HISTORY, Tab completion of command
// names and of keys by prefix, asked from the server), quoted words with spaces, `use COLLECTION`
// to work in a collection (shown in the prompt; -c on a line still wins), Ctrl-C cancels
// the line being typed, Ctrl-D (or `exit`) leaves. Each line is parsed like argv and run by
// runner.h, so a command behaves the same typed here or given on the command line.
// Owns nothing global except libedit's state and a SIGINT handler (installed for its duration).
// The one thing a newcomer gets wrong: libedit must not catch signals itself (rl_catch_signals
// = 0): its handler re-raises SIGINT to the whole process group.
#pragma once

#include "cli/args.h"
#include "meshkv/client.h"

namespace cli {

// Runs until Ctrl-D or `exit`; returns the exit status of the shell (0).
int repl(const Invocation& defaults, const std::string& url, meshkv::Client& client);

}  // namespace cli
