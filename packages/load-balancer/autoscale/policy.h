// lb::ScalingPolicy: when to add or remove a node, decided from samples alone (pure: no clock,
// no I/O; the Autoscaler feeds it samples and the time, so tests drive it with a fake clock).
// The shape every Compose/Swarm autoscaler and Kubernetes' HPA share: the group's mean CPU per
// container averaged over a window; scale up above upCpu, down below downCpu; one step at a
// time; down only when the group one node smaller would not be over the up thresholds (no
// flapping); never below min or above max (outside the bounds it steps back in at once); no
// decision within a cool-down of the last action; a failed action is retried after a back-off that
// doubles up to maxBackoffMs. The balancer's own view (open connections per routable backend)
// can also scale up (upConnections), so a burst of clients is seen before CPU is averaged.
// Samples without CPU (no member reachable for stats: Swarm tasks all on other hosts) leave
// the connections alone to decide: up above upConnections, down only when no connection at
// all was open over the whole window.
// The one thing to get right: the window must be full (samples spanning windowMs) before a
// threshold decides, and it starts over after every action, so a decision is never taken on
// samples from before the last change of size.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace lb {

struct ScalingOptions {
  int min = 2;
  int max = 6;
  double upCpu = 0.75;  // mean CPU per container, in cores (0.75 = 75 % of one core)
  double downCpu = 0.25;
  double upConnections = 0;        // mean open connections per backend that also scales up; 0 = off
  uint64_t windowMs = 300000;      // 5 min (dockmesh)
  uint64_t upCooldownMs = 180000;  // 3 min (dockmesh)
  uint64_t downCooldownMs = 300000;  // 5 min (HPA's scale-down stabilisation)
  uint64_t backoffMs = 5000;         // first retry after a failed action
  uint64_t maxBackoffMs = 300000;
};

struct ScalingSample {
  uint64_t atMs = 0;
  std::optional<double> cpu;  // mean over the group's measured containers, in cores; none = unknown
  double connections = 0;     // mean open connections per routable backend
};

enum class ScalingAction { kNone, kUp, kDown };
const char* toString(ScalingAction a);

struct ScalingDecision {
  ScalingAction action = ScalingAction::kNone;
  std::string reason;  // for the log, /status and the page
};

class ScalingPolicy {
 public:
  explicit ScalingPolicy(ScalingOptions o) : opts_(o) {}

  void observe(const ScalingSample& s);
  // What to do now with `running` containers in the group. kNone also while an action runs.
  ScalingDecision decide(uint64_t nowMs, int running) const;
  // The Autoscaler reports what became of the action it took on the last decision.
  void started(uint64_t nowMs);
  void succeeded(uint64_t nowMs, ScalingAction a);
  void failed(uint64_t nowMs);

  bool busy() const { return busy_; }
  uint64_t backoffUntilMs() const { return backoffUntilMs_; }
  int failuresInARow() const { return failuresInARow_; }
  const ScalingOptions& options() const { return opts_; }

 private:
  bool windowFull(uint64_t nowMs) const;
  std::optional<double> meanCpu() const;  // none when no sample in the window has CPU
  double meanConnections() const;

  ScalingOptions opts_;
  std::deque<ScalingSample> window_;
  bool busy_ = false;
  uint64_t lastUpMs_ = 0;
  uint64_t lastDownMs_ = 0;
  bool everActed_ = false;
  uint64_t backoffUntilMs_ = 0;
  int failuresInARow_ = 0;
};

}  // namespace lb
