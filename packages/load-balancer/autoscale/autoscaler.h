// lb::Autoscaler: the balancer's auto-scaling of its group (AUTOSCALE_MAX set), on Compose or
// Swarm. Every intervalMs it lists the group through its ScalingActuator (compose containers,
// or a Swarm service's tasks), reads the CPU of each member this engine can reach from the
// Engine's stats, adds what the balancer sees (open connections per routable backend), feeds
// the ScalingPolicy, and carries out its decision with the actuator. When no member's CPU is
// reachable (Swarm tasks all on other hosts) the sample carries connections only. Every
// decision is logged with its reason, kept (the last 20) for /status and the status page, and
// counted in /metrics. Owned by the Service beside the watcher; the actuator is made by the
// Service's factory over the Autoscaler's EngineClient. close(done) before destroying; loop
// thread only; one tick at a time (a tick still collecting stats skips the next).
// The one thing to get right: a decision counts only the group's running containers, so a
// container being created or stopped is never counted twice, and the policy holds further
// decisions until the actuator reported (busy) and then for the cool-down.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/metrics/metrics_writer.h"
#include "load-balancer/autoscale/autoscale_config.h"
#include "load-balancer/autoscale/policy.h"
#include "load-balancer/autoscale/scaling_actuator.h"
#include "load-balancer/docker/engine_client.h"
#include "load-balancer/proxy/backend_pool.h"

namespace lb {

enum class AutoscalerState { kStarting, kNoGroup, kWatching, kScalingUp, kScalingDown, kClosed };
const char* toString(AutoscalerState s);

struct ScalingRecord {
  uint64_t atMs = 0;  // loop clock
  ScalingAction action = ScalingAction::kNone;
  std::string reason;
  std::string container;
  std::string result = "running";  // running, ok, failed: <why>
};

class Autoscaler {
 public:
  using MakeActuator = std::function<std::unique_ptr<ScalingActuator>(EngineClient&)>;

  // service: the group's name, for logs.
  Autoscaler(uv_loop_t* loop, BackendPool& pool, const std::string& apiLocation,
             const std::string& service, AutoscaleConfig config, const MakeActuator& make);
  ~Autoscaler();
  Autoscaler(const Autoscaler&) = delete;
  Autoscaler& operator=(const Autoscaler&) = delete;

  void start();
  void close(std::function<void()> done);

  // ,"autoscale":{...} for /status.
  void appendStatus(std::string& json) const;
  void appendMetrics(common::metrics::MetricsWriter& w) const;

 private:
  static void onTick(uv_timer_t* t) noexcept;
  void tick();
  void listed(GroupListing&& l);
  void collect(GroupView group);
  void sampled(const GroupView& group, double cpu, int measured);
  void act(ScalingDecision d, const GroupView& group);
  void partClosed();

  uv_loop_t* loop_;
  BackendPool& pool_;
  std::string service_;
  AutoscaleConfig config_;
  ScalingPolicy policy_;
  EngineClient engine_;
  std::unique_ptr<ScalingActuator> actuator_;
  uv_timer_t timer_;
  AutoscalerState state_ = AutoscalerState::kStarting;
  bool collecting_ = false;
  uint64_t generation_ = 0;  // ticks; stale answers (after close) are dropped
  int partsOpen_ = 0;
  std::function<void()> onClosed_;

  std::deque<ScalingRecord> records_;
  int running_ = 0;
  double lastCpu_ = 0;
  double lastConnections_ = 0;
  uint64_t samples_ = 0;
  uint64_t scaleUps_ = 0;
  uint64_t scaleDowns_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace lb
