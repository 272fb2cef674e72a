// Command-line and environment configuration shared by the binaries. Every setting is a CLI11
// option that also reads an environment variable (the seeds' names); an invalid value ends the
// program with exit status 2 and one line naming the setting and the reason.
// Runs at start-up only, before any loop exists, so it may throw internally.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace common {

// Parses argv (and the environment, through each option's envname). Returns an exit code when
// the program must stop now (0 after --help/--version, 2 on an invalid setting), else nullopt.
// An empty value (`--opt ""`, or an environment variable set to "") is an invalid setting like
// any other, never the default: `SERVICE_PORT=` is a mistake to report, not to guess about.
// (EmptyValues::kAllowed keeps CLI11's own behaviour, for a tool whose strings may be empty.)
enum class EmptyValues { kInvalid, kAllowed };
std::optional<int> parseCli(CLI::App& app, int argc, char** argv,
                            EmptyValues empty = EmptyValues::kInvalid);

// --bind / BIND_ADDRESS (an IPv4 address, "::" or "::1") and --log-level / LOG_LEVEL: the
// same option, names and checks in every binary.
void addBindOption(CLI::App& app, std::string& bind);
void addLogLevelOption(CLI::App& app, std::string& level);

// A CLI11 validator for "http://host[:port][/path]" URLs (empty allowed).
CLI::Validator httpUrlValidator();

}  // namespace common
