// lb::SwarmActuator: the ScalingActuator of a Docker Swarm service, through a manager's Swarm
// API. List: the service's tasks that Swarm wants running (GET /tasks); a task's container is
// measured only when it runs on this engine's node (GET /info's Swarm.NodeID): stats of tasks
// on other hosts are not reachable from one engine. Up/down: read the service
// (GET /services/{name}), set Spec.Mode.Replicated.Replicas to the group's size plus or minus
// one, every other field of the spec as read, and POST /services/{id}/update?version=N. A
// concurrent update (the manager answers "update out of sequence") is re-read and retried
// after a back-off that doubles, at most maxAttempts times; any other error fails the action
// (the policy backs off). Swarm picks which task stops; the SwarmWatcher drains it at the
// balancer when its DesiredState leaves "running", seconds before Swarm sends SIGTERM.
// Owned by the Autoscaler; one action at a time; close(done) before destroying. Loop thread.
// The one thing to get right: the update must carry the version just read and the spec as
// read (labels, templates like {{.Service.Name}}, ForceUpdate): anything left out is removed.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "load-balancer/autoscale/scaling_actuator.h"
#include "load-balancer/docker/engine_client.h"

namespace lb {

struct SwarmActuatorOptions {
  std::string service;     // the full Swarm service name, e.g. "meshkv_database"
  int maxAttempts = 5;     // update out of sequence: read and try again this often in all
  uint64_t retryMs = 100;  // first wait before re-reading; doubles
  uint64_t maxRetryMs = 2000;
};

class SwarmActuator : public ScalingActuator {
 public:
  SwarmActuator(uv_loop_t* loop, EngineClient& engine, SwarmActuatorOptions opts);
  ~SwarmActuator() override;
  SwarmActuator(const SwarmActuator&) = delete;
  SwarmActuator& operator=(const SwarmActuator&) = delete;

  void list(std::function<void(GroupListing)> done) override;
  void scaleUp(const GroupView& group, std::function<void(ScalingResult)> done) override;
  void scaleDown(const GroupView& group, std::function<void(ScalingResult)> done) override;
  void close(std::function<void()> done) override;

 private:
  static void onRetry(uv_timer_t* t) noexcept;
  void listTasks(std::function<void(GroupListing)> done);
  void setReplicas(int target, std::function<void(ScalingResult)> done);
  void readAndUpdate();
  void finish(bool ok, std::string error);

  uv_loop_t* loop_;
  EngineClient& engine_;
  SwarmActuatorOptions opts_;
  uv_timer_t retryTimer_;
  bool closing_ = false;
  std::function<void()> onClosed_;
  std::string nodeId_;  // this engine's swarm node, read once
  // The action under way.
  std::function<void(ScalingResult)> done_;
  int target_ = 0;
  int attempts_ = 0;
  uint64_t waitMs_ = 0;
  std::string change_;  // "meshkv_database replicas 2 -> 3", for the log and /status
};

}  // namespace lb
