// lb::AutoscaleConfig: the AUTOSCALE_* settings of meshkv-lb (Docker mode only), parsed with the
// rest of lb::Config. Off unless AUTOSCALE_MAX is set; the defaults are the anchors of the
// Compose/Swarm autoscalers and HPA (docs/autoscaling.md): 75 % / 25 % CPU, a 5 min window,
// 3 min cool-down after scaling up, 5 min before scaling down.
// The one thing to get right: thresholds are percent of ONE core per container (a container
// using two cores is at 200 %), the unit `docker stats` shows.
#pragma once

#include <cstdint>
#include <string>

#include "load-balancer/autoscale/policy.h"

namespace CLI {
class App;
}

namespace lb {

struct AutoscaleConfig {
  int min = 2;
  int max = 0;  // 0 = auto-scaling off
  int upCpuPercent = 75;
  int downCpuPercent = 25;
  double upConnections = 0;  // 0 = connections do not scale up
  uint64_t windowMs = 300000;
  uint64_t upCooldownMs = 180000;
  uint64_t downCooldownMs = 300000;
  uint64_t intervalMs = 5000;  // how often CPU is sampled (one stats call per container)
  uint64_t drainMs = 10000;    // scale-down: wait for the victim's connections this long at most

  bool enabled() const { return max > 0; }
  ScalingOptions policy() const;
};

void addAutoscaleOptions(CLI::App& app, AutoscaleConfig& c);
// "" when valid, else the one line that says what is wrong.
std::string validateAutoscale(const AutoscaleConfig& c, bool dockerMode);

}  // namespace lb
