// See log.h. The pattern carries a millisecond timestamp, the level and the program name, so
// the interleaved output of a local cluster (`make run`) stays readable.
#include "common/log/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace common {

bool isValidLogLevel(const std::string& level) {
  return spdlog::level::from_str(level) != spdlog::level::off || level == "off";
}

bool initLogging(const std::string& level, const std::string& name) {
  auto logger = spdlog::stderr_color_st(name);
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
  if (!isValidLogLevel(level)) {
    spdlog::set_level(spdlog::level::info);
    return false;
  }
  spdlog::set_level(spdlog::level::from_str(level));
  return true;
}

}  // namespace common
