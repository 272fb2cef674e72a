// The `meshkv` command line as data: the command table (names, arities, usage lines), the
// splitting of a REPL line into words (quotes and backslashes, like a shell), and the parsing
// of words into an Invocation (global flags anywhere, then the command and its arguments).
// Pure functions, used by main.cc and the REPL. Errors are values whose code is "USAGE"; the
// runner turns them into exit status 2.
// The one thing a newcomer gets wrong: `--` ends the flags, so `meshkv set k -- --v` stores
// "--v"; without it a value that starts with "--" is read as a flag.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"

namespace cli {

struct Invocation {
  std::string node;   // --node: host:port or http://host:port ("" = MESHKV_URL or default)
  bool json = false;  // --json
  bool help = false;  // --help / -h
  bool version = false;
  std::string collection;  // --collection/-c NAME: "" = the default collection
  uint64_t ttl = 0;        // --ttl SECONDS (set only): the key expires after it (0: never)
  std::string w;           // --w=quorum|all
  int timeoutMs = 5000;    // --timeout=MS
  std::string command;     // "" = the REPL (one-shot only)
  std::vector<std::string> args;
};

struct CommandSpec {
  const char* name;
  size_t minArgs;
  size_t maxArgs;
  const char* usage;    // "get KEY"
  const char* summary;  // one line for help
  bool takesKey;        // its first argument is a key (REPL completion)
};

const std::vector<CommandSpec>& commands();
const CommandSpec* findCommand(std::string_view name);

// The help text (every command with its usage and summary, then the flags).
std::string helpText();

// Splits a REPL line: words separated by spaces; "..." (with \" \\ \n \t escapes) and '...'
// (literal) group words with spaces. USAGE error on an unclosed quote.
common::Result<std::vector<std::string>> splitLine(std::string_view line);

// Parses words (argv without the program name, or a split REPL line). USAGE errors for an
// unknown flag or command, a wrong number of arguments, and a flag the command does not take.
common::Result<Invocation> parse(const std::vector<std::string>& words);

// The base URL for --node/MESHKV_URL/default: "host:port" gains "http://".
std::string nodeUrl(const std::string& flag, const char* env);

}  // namespace cli
