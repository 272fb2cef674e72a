// Fuzz target: the balancer's configuration (load-balancer/config.h parseConfig: CLI11 flags and
// environment variables, then the cross-field rules and BACKENDS parsing). Each input line is
// one argv word, or, when it starts with '$', one NAME=value environment variable (all the
// balancer's variables are unset before each run). Host names are resolved numerically only
// (getaddrinfo is wrapped at link time), so no input ever reaches DNS. Properties: parsing never
// crashes, and a configuration it accepts satisfies every documented invariant (exactly one mode,
// every number in its range, every static backend a non-empty host:port with an address).
#include <netdb.h>
#include <netinet/in.h>

#include <cstdlib>
#include <string>

#include "command_line_input.h"
#include "fuzz_check.h"
#include "load-balancer/config.h"

extern "C" int __real_getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                                  addrinfo** res);

// Resolves IP literals only: a fuzzed host name must not wait on DNS.
extern "C" int __wrap_getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                                  addrinfo** res) {
  addrinfo h = hints != nullptr ? *hints : addrinfo{};
  h.ai_flags |= AI_NUMERICHOST;
  return __real_getaddrinfo(node, service, &h, res);
}

namespace {

const char* const kEnvNames[] = {"SERVICE_PORT",
                                 "BIND_ADDRESS",
                                 "BACKENDS",
                                 "GROUP_NAME",
                                 "GROUP_PORT",
                                 "GROUP_PROJECT",
                                 "GROUP_NETWORK",
                                 "DOCKER_API_LOCATION",
                                 "GROUP_INCLUDE_ONEOFF",
                                 "BALANCE",
                                 "ADMIN_PORT",
                                 "ADMIN_BIND",
                                 "LOG_LEVEL",
                                 "CONNECT_TIMEOUT_MS",
                                 "IDLE_TIMEOUT_MS",
                                 "SHUTDOWN_TIMEOUT_MS",
                                 "MAX_CONNECTIONS",
                                 "BUFFER_SIZE",
                                 "CHECK_INTERVAL_MS",
                                 "CHECK_RISE",
                                 "CHECK_FALL",
                                 "PASSIVE_FAILURES",
                                 "PASSIVE_DOWN_MS",
                                 "RESYNC_INTERVAL_MS"};

template <typename T>
bool within(T v, T lo, T hi) {
  return v >= lo && v <= hi;
}

void checkAccepted(const lb::Config& c) {
  FUZZ_CHECK(c.backendsSpec.empty() != c.groupName.empty(), "exactly one mode");
  FUZZ_CHECK(within(c.servicePort, 0, 65535), "SERVICE_PORT in range");
  FUZZ_CHECK(c.adminPort == -1 || within(c.adminPort, 0, 65535), "ADMIN_PORT in range");
  FUZZ_CHECK(c.balance == "roundrobin" || c.balance == "leastconn", "BALANCE known");
  FUZZ_CHECK(within<uint64_t>(c.connectTimeoutMs, 1, 600000), "CONNECT_TIMEOUT_MS in range");
  FUZZ_CHECK(within<uint64_t>(c.idleTimeoutMs, 1, 86400000), "IDLE_TIMEOUT_MS in range");
  FUZZ_CHECK(c.shutdownTimeoutMs <= 3600000, "SHUTDOWN_TIMEOUT_MS in range");
  FUZZ_CHECK(within<size_t>(c.maxConnections, 1, 1000000), "MAX_CONNECTIONS in range");
  FUZZ_CHECK(within<size_t>(c.bufferSize, 4096, 4 << 20), "BUFFER_SIZE in range");
  FUZZ_CHECK(within<uint64_t>(c.checkIntervalMs, 10, 3600000), "CHECK_INTERVAL_MS in range");
  FUZZ_CHECK(within<uint32_t>(c.checkRise, 1, 100), "CHECK_RISE in range");
  FUZZ_CHECK(within<uint32_t>(c.checkFall, 1, 100), "CHECK_FALL in range");
  FUZZ_CHECK(within<uint32_t>(c.passiveFailures, 1, 1000), "PASSIVE_FAILURES in range");
  FUZZ_CHECK(within<uint64_t>(c.passiveDownMs, 1, 3600000), "PASSIVE_DOWN_MS in range");
  FUZZ_CHECK(within<uint64_t>(c.resyncIntervalMs, 100, 86400000), "RESYNC_INTERVAL_MS in range");
  FUZZ_CHECK(!c.bind.empty() && !c.adminBind.empty() && !c.logLevel.empty(), "no empty setting");
  if (c.dockerMode()) {
    FUZZ_CHECK(within(c.groupPort, 1, 65535), "GROUP_PORT set in Docker mode");
    FUZZ_CHECK(c.dockerApi.rfind("http://", 0) == 0 || c.dockerApi.front() == '/',
               "DOCKER_API_LOCATION is a socket path or an http URL");
    FUZZ_CHECK(c.backends.empty(), "no static backends in Docker mode");
    return;
  }
  FUZZ_CHECK(!c.backends.empty(), "static mode has backends");
  for (const auto& b : c.backends) {
    FUZZ_CHECK(!b.spec.empty() && b.spec.front() != ' ' && b.spec.back() != ' ',
               "a backend spec is trimmed and not empty");
    FUZZ_CHECK(b.spec.find(',') == std::string::npos, "one backend per spec");
    int port = 0;
    if (b.addr.ss_family == AF_INET) {
      port = ntohs(reinterpret_cast<const sockaddr_in&>(b.addr).sin_port);
    } else {
      FUZZ_CHECK(b.addr.ss_family == AF_INET6, "a backend has an IPv4 or IPv6 address");
      port = ntohs(reinterpret_cast<const sockaddr_in6&>(b.addr).sin6_port);
    }
    FUZZ_CHECK(within(port, 1, 65535), "a backend's port is 1..65535");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::CommandLine cli("meshkv-lb", kEnvNames, data, size);
  lb::ParsedConfig parsed = lb::parseConfig(cli.argc(), cli.argv());
  if (!parsed.exitCode) checkAccepted(parsed.config);
  return 0;
}
