// lb::Config: every setting of meshkv-lb, from environment variables (the seeds' names) or the
// equivalent flags, validated once at start-up: an invalid setting ends the program with exit
// status 2 and one line naming it. Static mode (BACKENDS) and Docker mode (GROUP_NAME) are
// exclusive; exactly one must be set. Parsing runs before the loop exists and may block (it
// resolves BACKENDS host names once); nothing here runs on the data path.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "load-balancer/autoscale/autoscale_config.h"

namespace lb {

struct StaticBackend {
  std::string spec;  // as written: host:port
  sockaddr_storage addr{};
};

struct Config {
  std::string bind = "0.0.0.0";
  int servicePort = 8080;
  std::string backendsSpec;
  std::vector<StaticBackend> backends;  // static mode, resolved
  std::string groupName;                // Docker mode
  int groupPort = 0;
  std::string groupProject;  // "" = own project when in a container, else any
  std::string groupNetwork;  // "" = a network shared with the balancer, else the first
  std::string dockerApi = "/var/run/docker.sock";
  bool includeOneOff = true;
  std::string balance = "roundrobin";
  int adminPort = -1;  // -1 = off
  std::string adminBind = "0.0.0.0";
  std::string logLevel = "info";
  uint64_t connectTimeoutMs = 1000;
  uint64_t idleTimeoutMs = 600000;
  uint64_t shutdownTimeoutMs = 10000;
  size_t maxConnections = 10000;
  size_t bufferSize = 64 * 1024;
  uint64_t checkIntervalMs = 2000;
  uint32_t checkRise = 2;
  uint32_t checkFall = 3;
  uint32_t passiveFailures = 3;
  uint64_t passiveDownMs = 10000;
  uint64_t resyncIntervalMs = 30000;
  std::string swarmMode = "off";  // off (compose), auto, api (a manager's Swarm API), dns
  uint64_t swarmPollMs = 1000;    // Swarm: relist the tasks this often when nothing changes
  AutoscaleConfig autoscale;      // AUTOSCALE_* (off unless AUTOSCALE_MAX is set)
  std::string portFile;           // write the bound service port here once listening (tests)

  bool dockerMode() const { return !groupName.empty(); }
  bool swarm() const { return dockerMode() && swarmMode != "off"; }
  // The Swarm service: GROUP_NAME, prefixed "<stack>_" when GROUP_PROJECT names the stack.
  std::string swarmService() const {
    return groupProject.empty() ? groupName : groupProject + "_" + groupName;
  }
};

struct ParsedConfig {
  Config config;
  std::optional<int> exitCode;  // set: stop now with this status (help, version, invalid)
};

ParsedConfig parseConfig(int argc, char** argv);

}  // namespace lb
