// Runs one parsed command against a meshkv::Client and prints its result: the value alone for
// `get` (script-friendly), aligned tables for lists and stats when `tty` is set (tab-separated
// lines otherwise), JSON with --json. Returns the exit status (0 ok, 1 not found, 2 usage,
// 3 server or network error) after writing one line on `err` for anything but 0.
// Shared by the one-shot path (main.cc) and the REPL; single-threaded, blocking.
// The one thing a newcomer gets wrong: stdout carries data only; every message goes to `err`,
// so `v=$(meshkv get k)` never captures an error text.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "meshkv/client.h"

namespace cli {

enum Exit { kOk = 0, kNotFound = 1, kUsage = 2, kFailed = 3 };

struct Output {
  FILE* out = stdout;
  FILE* err = stderr;
  bool tty = false;
};

int run(const Invocation& inv, meshkv::Client& client, const Output& o);

// Writes "meshkv: <message>\n" on o.err and returns the exit status for that error.
int report(const common::Error& e, const Output& o, const std::string& key = "");

// Columns padded to their widest cell (a header row first when `header` is set); with
// tty=false, cells are separated by one tab and the header is left out.
std::string table(const std::vector<std::vector<std::string>>& rows, bool tty, bool header);

}  // namespace cli
