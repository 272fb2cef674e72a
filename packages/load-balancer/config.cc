// See config.h. CLI11 checks each value's shape; the cross-field rules (exactly one mode, a
// GROUP_PORT with GROUP_NAME, BACKENDS entries that are not empty and resolve) are checked after
// parsing and reported the same way: "meshkv-lb: invalid configuration: ..." and exit status 2.
#include "load-balancer/config.h"

#include <netdb.h>

#include <cstdio>
#include <cstring>

#include "common/config/cli.h"

namespace lb {
namespace {

int invalid(const std::string& msg) {
  std::fprintf(stderr, "meshkv-lb: invalid configuration: %s\n", msg.c_str());
  return 2;
}

// "host:port" or "[v6]:port" -> resolved address; error text otherwise.
std::string resolveBackend(const std::string& spec, sockaddr_storage& out) {
  std::string host;
  std::string port;
  if (!spec.empty() && spec.front() == '[') {
    auto close = spec.find(']');
    if (close == std::string::npos || close + 1 >= spec.size() || spec[close + 1] != ':') {
      return "BACKENDS entry '" + spec + "' is not [ipv6]:port";
    }
    host = spec.substr(1, close - 1);
    port = spec.substr(close + 2);
  } else {
    auto colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return "BACKENDS entry '" + spec + "' is not host:port";
    host = spec.substr(0, colon);
    port = spec.substr(colon + 1);
  }
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
    return "BACKENDS entry '" + spec + "' has an invalid port";
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return "BACKENDS host '" + host + "' does not resolve: " + gai_strerror(rc);
  }
  std::memset(&out, 0, sizeof out);
  std::memcpy(&out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return {};
}

}  // namespace

ParsedConfig parseConfig(int argc, char** argv) {
  ParsedConfig out;
  Config& c = out.config;
  CLI::App app{"meshkv-lb: a Docker-aware TCP load balancer (a compose scale group, or BACKENDS)",
               "meshkv-lb"};
  app.set_version_flag("--version", std::string("meshkv-lb ") + MESHKV_VERSION);
  app.add_option("--service-port", c.servicePort, "port clients connect to; 0 picks a free one")
      ->envname("SERVICE_PORT")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  common::addBindOption(app, c.bind);
  app.add_option("--backends", c.backendsSpec, "static mode: host:port,host:port,...")
      ->envname("BACKENDS");
  app.add_option("--group-name", c.groupName, "Docker mode: the compose service to balance over")
      ->envname("GROUP_NAME");
  app.add_option("--group-port", c.groupPort, "Docker mode: the port on the containers")
      ->envname("GROUP_PORT")
      ->check(CLI::Range(1, 65535));
  app.add_option("--group-project", c.groupProject,
                 "compose project (default: the balancer's own when in a container, else any)")
      ->envname("GROUP_PROJECT");
  app.add_option("--group-network", c.groupNetwork,
                 "network whose address to use (default: one shared with the balancer)")
      ->envname("GROUP_NETWORK");
  app.add_option("--docker-api-location", c.dockerApi,
                 "Docker Engine API: a unix socket path or http://host:port")
      ->envname("DOCKER_API_LOCATION")
      ->capture_default_str();
  app.add_option("--include-oneoff", c.includeOneOff,
                 "route to one-off containers of the service (docker compose run)")
      ->envname("GROUP_INCLUDE_ONEOFF")
      ->capture_default_str();
  app.add_option("--balance", c.balance, "roundrobin or leastconn")
      ->envname("BALANCE")
      ->check(CLI::IsMember({"roundrobin", "leastconn"}))
      ->capture_default_str();
  app.add_option("--admin-port", c.adminPort, "status and metrics port (off when unset)")
      ->envname("ADMIN_PORT")
      ->check(CLI::Range(0, 65535));
  app.add_option("--admin-bind", c.adminBind, "address of the admin port")
      ->envname("ADMIN_BIND")
      ->check(CLI::ValidIPV4 | CLI::IsMember({"::", "::1"}))
      ->capture_default_str();
  common::addLogLevelOption(app, c.logLevel);
  app.add_option("--connect-timeout-ms", c.connectTimeoutMs, "a backend connect gives up after")
      ->envname("CONNECT_TIMEOUT_MS")
      ->check(CLI::Range(uint64_t{1}, uint64_t{600000}))
      ->capture_default_str();
  app.add_option("--idle-timeout-ms", c.idleTimeoutMs, "a connection silent both ways closes after")
      ->envname("IDLE_TIMEOUT_MS")
      ->check(CLI::Range(uint64_t{1}, uint64_t{86400000}))
      ->capture_default_str();
  app.add_option("--shutdown-timeout-ms", c.shutdownTimeoutMs,
                 "on SIGTERM, open connections may finish for this long")
      ->envname("SHUTDOWN_TIMEOUT_MS")
      ->check(CLI::Range(uint64_t{0}, uint64_t{3600000}))
      ->capture_default_str();
  app.add_option("--max-connections", c.maxConnections, "open client connections at most")
      ->envname("MAX_CONNECTIONS")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--buffer-size", c.bufferSize, "bytes read at once, and held per direction")
      ->envname("BUFFER_SIZE")
      ->check(CLI::Range(4096, 4 << 20))
      ->capture_default_str();
  app.add_option("--check-interval-ms", c.checkIntervalMs, "static mode: active TCP check interval")
      ->envname("CHECK_INTERVAL_MS")
      ->check(CLI::Range(uint64_t{10}, uint64_t{3600000}))
      ->capture_default_str();
  app.add_option("--check-rise", c.checkRise, "successful checks that bring a backend up")
      ->envname("CHECK_RISE")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--check-fall", c.checkFall, "failed checks that take a backend down")
      ->envname("CHECK_FALL")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--passive-failures", c.passiveFailures,
                 "refused connects in a row that take a backend out for a while")
      ->envname("PASSIVE_FAILURES")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--passive-down-ms", c.passiveDownMs, "how long passive health keeps it out")
      ->envname("PASSIVE_DOWN_MS")
      ->check(CLI::Range(uint64_t{1}, uint64_t{3600000}))
      ->capture_default_str();
  app.add_option("--resync-interval-ms", c.resyncIntervalMs,
                 "Docker mode: relist the group this often as a safety net")
      ->envname("RESYNC_INTERVAL_MS")
      ->check(CLI::Range(uint64_t{100}, uint64_t{86400000}))
      ->capture_default_str();
  app.add_option("--swarm-mode", c.swarmMode,
                 "Docker mode: off (compose containers), auto (the Swarm API on a manager, else "
                 "DNS tasks.<service>), api, dns; GROUP_PROJECT is then the stack's name")
      ->envname("SWARM_MODE")
      ->check(CLI::IsMember({"off", "auto", "api", "dns"}))
      ->capture_default_str();
  app.add_option("--swarm-poll-ms", c.swarmPollMs,
                 "Swarm: relist the service's tasks this often while nothing changes")
      ->envname("SWARM_POLL_MS")
      ->check(CLI::Range(uint64_t{50}, uint64_t{3600000}))
      ->capture_default_str();
  addAutoscaleOptions(app, c.autoscale);
  app.add_option("--port-file", c.portFile, "write the bound service port here once listening");
  out.exitCode = common::parseCli(app, argc, argv);
  if (out.exitCode) return out;

  if (c.backendsSpec.empty() == c.groupName.empty()) {
    out.exitCode = invalid("set exactly one of BACKENDS (static) or GROUP_NAME (Docker)");
    return out;
  }
  if (std::string err = validateAutoscale(c.autoscale, c.dockerMode()); !err.empty()) {
    out.exitCode = invalid(err);
    return out;
  }
  if (c.autoscale.enabled() && c.swarmMode == "dns") {
    out.exitCode =
        invalid("AUTOSCALE_MAX on Swarm needs a manager's Swarm API (SWARM_MODE auto or api)");
    return out;
  }
  if (c.dockerMode()) {
    if (c.groupPort == 0) {
      out.exitCode = invalid("GROUP_PORT is required with GROUP_NAME");
      return out;
    }
    if (c.dockerApi.empty() ||
        (c.dockerApi.rfind("http://", 0) != 0 && c.dockerApi.front() != '/')) {
      out.exitCode = invalid("DOCKER_API_LOCATION must be a unix socket path or http://host:port");
      return out;
    }
    return out;
  }
  size_t start = 0;
  while (start <= c.backendsSpec.size()) {
    size_t comma = c.backendsSpec.find(',', start);
    if (comma == std::string::npos) comma = c.backendsSpec.size();
    std::string spec = c.backendsSpec.substr(start, comma - start);
    while (!spec.empty() && spec.front() == ' ') spec.erase(0, 1);
    while (!spec.empty() && spec.back() == ' ') spec.pop_back();
    if (spec.empty()) {  // "a:1,,b:2" or a trailing comma: a lost entry, not a style choice
      out.exitCode = invalid("BACKENDS has an empty entry: '" + c.backendsSpec + "'");
      return out;
    }
    StaticBackend b;
    b.spec = spec;
    std::string err = resolveBackend(spec, b.addr);
    if (!err.empty()) {
      out.exitCode = invalid(err);
      return out;
    }
    c.backends.push_back(b);
    start = comma + 1;
  }
  return out;
}

}  // namespace lb
