// lb::ComposeActuator: the ScalingActuator of a Compose project, through the Docker Engine API,
// the way Compose itself would, so `docker compose ps/logs/down` and a later `up --scale` treat
// what it made as their own. List: the containers labelled with the project (the
// DockerWatcher's, read on every call) and the service, one-off containers left out. Up: inspect
// the group's newest running container and create one more from it (same image, config, env,
// healthcheck, labels, HostConfig, network with the service's alias), numbered after the highest
// container number (stopped ones included), named <project>-<service>-<n>, then start it. Down:
// take the highest-numbered running container, drain it at the balancer (no new connections) until
// its connections finish or drainMs passes, stop it with its own grace period (the node leaves the
// mesh cleanly on SIGTERM), then remove it with its anonymous volumes.
// Owned by the Autoscaler; one action at a time; close(done) before destroying. Loop thread.
// The one thing to get right: never copy the template's Hostname (the node's id in the mesh)
// or its anonymous volumes (its data); Docker gives the new container its own.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "load-balancer/autoscale/scaling_actuator.h"
#include "load-balancer/docker/engine_client.h"
#include "load-balancer/proxy/backend_pool.h"

namespace lb {

class ComposeActuator : public ScalingActuator {
 public:
  // project() names the compose project now ("" while unknown: nothing to scale yet).
  ComposeActuator(uv_loop_t* loop, EngineClient& engine, BackendPool& pool, uint64_t drainMs,
                  std::function<std::string()> project, std::string service);
  ~ComposeActuator() override;
  ComposeActuator(const ComposeActuator&) = delete;
  ComposeActuator& operator=(const ComposeActuator&) = delete;

  void list(std::function<void(GroupListing)> done) override;
  void scaleUp(const GroupView& group, std::function<void(ScalingResult)> done) override;
  void scaleDown(const GroupView& group, std::function<void(ScalingResult)> done) override;
  void close(std::function<void()> done) override;

 private:
  static void onDrainTick(uv_timer_t* t) noexcept;
  void create(const std::string& body, const std::string& name);
  void stopAndRemove();
  void finish(bool ok, std::string error);

  uv_loop_t* loop_;
  EngineClient& engine_;
  BackendPool& pool_;
  uint64_t drainMs_;
  std::function<std::string()> project_;
  std::string service_;
  uv_timer_t drainTimer_;
  bool closing_ = false;
  std::function<void()> onClosed_;
  // The action under way.
  std::function<void(ScalingResult)> done_;
  std::string container_;  // name
  std::string id_;
  uint64_t drainDeadlineMs_ = 0;
};

}  // namespace lb
