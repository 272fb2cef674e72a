// See policy.h.
#include "load-balancer/autoscale/policy.h"

#include <algorithm>

#include <fmt/format.h>

namespace lb {

const char* toString(ScalingAction a) {
  switch (a) {
    case ScalingAction::kUp:
      return "up";
    case ScalingAction::kDown:
      return "down";
    case ScalingAction::kNone:
      break;
  }
  return "none";
}

void ScalingPolicy::observe(const ScalingSample& s) {
  window_.push_back(s);
  // Keep one sample older than the window: it proves the window is covered.
  while (window_.size() > 2 && s.atMs - window_[1].atMs >= opts_.windowMs) window_.pop_front();
}

bool ScalingPolicy::windowFull(uint64_t nowMs) const {
  return !window_.empty() && nowMs - window_.front().atMs >= opts_.windowMs;
}

std::optional<double> ScalingPolicy::meanCpu() const {
  double sum = 0;
  int n = 0;
  for (const auto& s : window_) {
    if (!s.cpu) continue;
    sum += *s.cpu;
    ++n;
  }
  if (n == 0) return std::nullopt;
  return sum / n;
}

double ScalingPolicy::meanConnections() const {
  double sum = 0;
  for (const auto& s : window_) sum += s.connections;
  return window_.empty() ? 0 : sum / static_cast<double>(window_.size());
}

ScalingDecision ScalingPolicy::decide(uint64_t nowMs, int running) const {
  if (busy_ || nowMs < backoffUntilMs_) return {};
  // Outside the bounds: step back in, whatever the load and the cool-downs.
  if (running < opts_.min) {
    return {ScalingAction::kUp,
            fmt::format("{} running, below the minimum {}", running, opts_.min)};
  }
  if (running > opts_.max) {
    return {ScalingAction::kDown,
            fmt::format("{} running, above the maximum {}", running, opts_.max)};
  }
  if (!windowFull(nowMs)) return {};
  const std::optional<double> measured = meanCpu();
  const double cpu = measured.value_or(0);
  const double conns = meanConnections();
  const uint64_t lastAction = std::max(lastUpMs_, lastDownMs_);
  const bool hot = cpu > opts_.upCpu || (opts_.upConnections > 0 && conns > opts_.upConnections);
  const std::string cpuText =
      measured ? fmt::format("mean CPU {:.0f} %", cpu * 100) : std::string("CPU unknown");
  if (hot && running < opts_.max) {
    if (everActed_ && nowMs - lastAction < opts_.upCooldownMs) return {};
    return {ScalingAction::kUp,
            fmt::format("{} and {:.1f} connections per node over {} s (up at "
                        "{:.0f} %{})",
                        cpuText, conns, opts_.windowMs / 1000, opts_.upCpu * 100,
                        opts_.upConnections > 0
                            ? fmt::format(" or {:.0f} connections", opts_.upConnections)
                            : "")};
  }
  // Down only if the group one node smaller would not be hot at once (no flapping): the same
  // CPU and connections spread over one node fewer.
  const double shrink = running > 1 ? static_cast<double>(running) / (running - 1) : 1;
  const bool hotAfter = cpu * shrink > opts_.upCpu ||
                        (opts_.upConnections > 0 && conns * shrink > opts_.upConnections);
  // Without CPU, idle is the only evidence that a node is not needed: no connection at all.
  const bool idle = measured ? cpu < opts_.downCpu : conns == 0;
  if (!hot && !hotAfter && idle && running > opts_.min) {
    if (everActed_ && nowMs - lastAction < opts_.downCooldownMs) return {};
    return {ScalingAction::kDown,
            measured ? fmt::format("mean CPU {:.0f} % over {} s (down below {:.0f} %)", cpu * 100,
                                   opts_.windowMs / 1000, opts_.downCpu * 100)
                     : fmt::format("CPU unknown (no member's stats reachable) and no open "
                                   "connection over {} s",
                                   opts_.windowMs / 1000)};
  }
  return {};
}

void ScalingPolicy::started(uint64_t) {
  busy_ = true;
}

void ScalingPolicy::succeeded(uint64_t nowMs, ScalingAction a) {
  busy_ = false;
  everActed_ = true;
  failuresInARow_ = 0;
  backoffUntilMs_ = 0;
  (a == ScalingAction::kUp ? lastUpMs_ : lastDownMs_) = nowMs;
  window_.clear();  // the group changed size: the old samples describe another group
}

void ScalingPolicy::failed(uint64_t nowMs) {
  busy_ = false;
  ++failuresInARow_;
  uint64_t wait = opts_.backoffMs;
  for (int i = 1; i < failuresInARow_ && wait < opts_.maxBackoffMs; ++i) wait *= 2;
  backoffUntilMs_ = nowMs + std::min(wait, opts_.maxBackoffMs);
}

}  // namespace lb
