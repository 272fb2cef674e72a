// See autoscale_config.h.
#include "load-balancer/autoscale/autoscale_config.h"

#include <CLI/CLI.hpp>

namespace lb {

ScalingOptions AutoscaleConfig::policy() const {
  ScalingOptions o;
  o.min = min;
  o.max = max;
  o.upCpu = upCpuPercent / 100.0;
  o.downCpu = downCpuPercent / 100.0;
  o.upConnections = upConnections;
  o.windowMs = windowMs;
  o.upCooldownMs = upCooldownMs;
  o.downCooldownMs = downCooldownMs;
  return o;
}

void addAutoscaleOptions(CLI::App& app, AutoscaleConfig& c) {
  auto ms = CLI::Range(uint64_t{0}, uint64_t{86400000});
  app.add_option("--autoscale-min", c.min, "auto-scaling: never fewer nodes")
      ->envname("AUTOSCALE_MIN")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--autoscale-max", c.max, "auto-scaling: never more nodes (0 = off)")
      ->envname("AUTOSCALE_MAX")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--autoscale-up-cpu", c.upCpuPercent,
                 "scale up above this mean CPU per node (% of one core)")
      ->envname("AUTOSCALE_UP_CPU")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--autoscale-down-cpu", c.downCpuPercent,
                 "scale down below this mean CPU per node (% of one core)")
      ->envname("AUTOSCALE_DOWN_CPU")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--autoscale-up-connections", c.upConnections,
                 "also scale up above this mean of open connections per node (0 = off)")
      ->envname("AUTOSCALE_UP_CONNECTIONS")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--autoscale-window-ms", c.windowMs, "CPU is averaged over this window")
      ->envname("AUTOSCALE_WINDOW_MS")
      ->check(ms)
      ->capture_default_str();
  app.add_option("--autoscale-up-cooldown-ms", c.upCooldownMs, "no scale-up this soon after one")
      ->envname("AUTOSCALE_UP_COOLDOWN_MS")
      ->check(ms)
      ->capture_default_str();
  app.add_option("--autoscale-down-cooldown-ms", c.downCooldownMs,
                 "no scale-down this soon after any change")
      ->envname("AUTOSCALE_DOWN_COOLDOWN_MS")
      ->check(ms)
      ->capture_default_str();
  app.add_option("--autoscale-interval-ms", c.intervalMs, "CPU sampling interval")
      ->envname("AUTOSCALE_INTERVAL_MS")
      ->check(CLI::Range(uint64_t{500}, uint64_t{3600000}))
      ->capture_default_str();
  app.add_option("--autoscale-drain-ms", c.drainMs,
                 "scale-down: wait this long at most for the node's connections to finish")
      ->envname("AUTOSCALE_DRAIN_MS")
      ->check(ms)
      ->capture_default_str();
}

std::string validateAutoscale(const AutoscaleConfig& c, bool dockerMode) {
  if (!c.enabled()) return "";
  if (!dockerMode) return "AUTOSCALE_MAX needs Docker mode (GROUP_NAME)";
  if (c.max < c.min) return "AUTOSCALE_MAX is below AUTOSCALE_MIN";
  if (c.downCpuPercent >= c.upCpuPercent)
    return "AUTOSCALE_DOWN_CPU must be below AUTOSCALE_UP_CPU";
  return "";
}

}  // namespace lb
