// cli::watch: `meshkv [-c COLLECTION] watch [PREFIX]`: follows the node's change stream (GET
// /watch?c=&prefix=, as newline-delimited JSON) and prints each change as the node applies it, one
// line each: "set KEY VALUE", "rm KEY", "clear", and "reset (REASON)" when the node says the
// watcher must re-list. With --json the node's own JSON lines are printed as they come. It runs
// until Ctrl-C (exit 0) or until the stream fails or ends (exit 3, one line on stderr). Blocking,
// single-threaded (libcurl's easy interface). The one thing to get right: stdout is flushed after
// every event, so `meshkv watch | grep ...` sees a change when it happens.
#pragma once

#include <atomic>
#include <string>

#include "cli/args.h"
#include "cli/runner.h"

namespace cli {

// `stop`, when set, ends the watch with exit 0 (main.cc sets it from SIGINT/SIGTERM).
int watch(const Invocation& inv, const std::string& url, const Output& o,
          const std::atomic<bool>& stop);

}  // namespace cli
