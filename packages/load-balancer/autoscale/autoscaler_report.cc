// Autoscaler::appendStatus and appendMetrics: what the auto-scaler shows of itself in the admin
// port's /status (the page's "Auto-scaling" section) and /metrics, read from its counters and
// its last 20 decisions. Loop thread (the admin routes).
// The one thing to get right: decision times are the loop clock; the page shows their age from
// "nowMs" of the same answer, never from the browser's clock.
#include "load-balancer/autoscale/autoscaler.h"

#include "common/http/json.h"

namespace lb {

void Autoscaler::appendStatus(std::string& s) const {
  using common::json::appendString;
  using common::json::appendUint;
  s += ",\"autoscale\":{\"state\":";
  appendString(s, toString(state_));
  s += ",\"min\":";
  appendUint(s, static_cast<uint64_t>(config_.min));
  s += ",\"max\":";
  appendUint(s, static_cast<uint64_t>(config_.max));
  s += ",\"running\":";
  appendUint(s, static_cast<uint64_t>(running_));
  s += ",\"cpuPercent\":";
  appendUint(s, static_cast<uint64_t>(lastCpu_ * 100 + 0.5));
  s += ",\"connectionsPerNode\":";
  appendUint(s, static_cast<uint64_t>(lastConnections_ + 0.5));
  s += ",\"scaleUps\":";
  appendUint(s, scaleUps_);
  s += ",\"scaleDowns\":";
  appendUint(s, scaleDowns_);
  s += ",\"failures\":";
  appendUint(s, failures_);
  s += ",\"backoffMs\":";
  const uint64_t now = uv_now(loop_);
  appendUint(s, policy_.backoffUntilMs() > now ? policy_.backoffUntilMs() - now : 0);
  s += ",\"nowMs\":";
  appendUint(s, now);
  s += ",\"decisions\":[";
  bool first = true;
  for (const auto& r : records_) {
    if (!first) s += ',';
    first = false;
    s += "{\"atMs\":";
    appendUint(s, r.atMs);
    s += ",\"action\":";
    appendString(s, toString(r.action));
    s += ",\"reason\":";
    appendString(s, r.reason);
    s += ",\"container\":";
    appendString(s, r.container);
    s += ",\"result\":";
    appendString(s, r.result);
    s += '}';
  }
  s += "]}";
}

void Autoscaler::appendMetrics(common::metrics::MetricsWriter& w) const {
  w.counter("meshkv_lb_autoscale_decisions_total",
            "Scaling actions finished, by direction and "
            "result")
      .sample(static_cast<double>(scaleUps_), {{"action", "up"}, {"result", "ok"}})
      .sample(static_cast<double>(scaleDowns_), {{"action", "down"}, {"result", "ok"}});
  w.counter("meshkv_lb_autoscale_failures_total", "Scaling actions that failed (retried later)")
      .sample(static_cast<double>(failures_));
  w.gauge("meshkv_lb_autoscale_running", "Running containers of the group")
      .sample(static_cast<double>(running_));
  w.gauge("meshkv_lb_autoscale_cpu_cores", "Last mean CPU per container of the group, in cores")
      .sample(lastCpu_);
  w.gauge("meshkv_lb_autoscale_bounds", "The group's minimum and maximum size")
      .sample(config_.min, {{"bound", "min"}})
      .sample(config_.max, {{"bound", "max"}});
}

}  // namespace lb
