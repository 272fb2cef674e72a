// See cli.h. CLI11's own messages are multi-line on some errors; we squeeze them into the one
// line a user or an orchestrator's log shows, prefixed with the program name. CLI11 skips an
// environment variable that is set but empty (the option then keeps its default), so that case
// is checked here after parsing.
#include "common/config/cli.h"

#include <cstdio>
#include <cstdlib>

#include "common/http/url.h"

namespace common {

std::optional<int> parseCli(CLI::App& app, int argc, char** argv, EmptyValues empty) {
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
  if (empty == EmptyValues::kAllowed) return std::nullopt;
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->get_expected_min() == 0) continue;  // a flag: present or not, never empty
    std::string what;
    if (opt->count() > 0) {
      for (const std::string& r : opt->results()) {
        if (r.empty()) what = opt->get_name() + ": an empty value";
      }
    } else if (!opt->get_envname().empty()) {
      const char* env = std::getenv(opt->get_envname().c_str());
      if (env != nullptr && *env == '\0') {
        what = opt->get_envname() + " is set but empty (unset it for the default)";
      }
    }
    if (!what.empty()) {
      std::fprintf(stderr, "%s: invalid configuration: %s\n", app.get_name().c_str(), what.c_str());
      return 2;
    }
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
