// See cli.h. CLI11's own messages are multi-line on some errors; we squeeze them into the one
// line a user or an orchestrator's log shows, prefixed with the program name.
#include "common/config/cli.h"

#include <cstdio>

#include "common/http/url.h"

namespace common {

std::optional<int> parseCli(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    std::printf("%s\n", e.what());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (char& c : msg) {
      if (c == '\n') c = ' ';
    }
    std::fprintf(stderr, "%s: invalid configuration: %s\n", app.get_name().c_str(), msg.c_str());
    return 2;
  }
  return std::nullopt;
}

void addBindOption(CLI::App& app, std::string& bind) {
  app.add_option("--bind", bind, "address to listen on")
      ->envname("BIND_ADDRESS")
      ->check(CLI::ValidIPV4 | CLI::IsMember({"::", "::1"}))
      ->capture_default_str();
}

void addLogLevelOption(CLI::App& app, std::string& level) {
  app.add_option("--log-level", level, "trace, debug, info, warn, error, critical, off")
      ->envname("LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
}

CLI::Validator httpUrlValidator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value.empty()) return {};
        auto parsed = parseHttpUrl(value);
        if (!parsed.ok()) return "not an http URL (" + parsed.error().message + "): " + value;
        return {};
      },
      "URL");
}

}  // namespace common
