// Logging set-up shared by every binary: spdlog's default logger on stderr, level from
// LOG_LEVEL (trace, debug, info, warn, error, critical, off). Call initLogging() once in main
// before the loop starts; afterwards use spdlog::info(...) etc. directly. Single-threaded use.
#pragma once

#include <string>

namespace common {

// Returns false (and leaves the level at info) when `level` is not a known level name.
bool initLogging(const std::string& level, const std::string& name);
bool isValidLogLevel(const std::string& level);

}  // namespace common
