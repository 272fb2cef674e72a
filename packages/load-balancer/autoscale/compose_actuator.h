// lb::ComposeActuator: carries out a scaling decision on a Compose project through the Docker
// Engine API, the way Compose itself would, so `docker compose ps/logs/down` and a later
// `up --scale` treat what it made as their own. Up: inspect the group's newest running
// container and create one more from it (same image, config, env, healthcheck, labels,
// HostConfig, network with the service's alias), numbered after the highest container number
// (stopped ones included), named <project>-<service>-<n>, then start it. Down: take the
// highest-numbered running container, drain it at the balancer (no new connections) until its
// connections finish or drainMs passes, stop it with its own grace period (the node leaves the
// mesh cleanly on SIGTERM), then remove it with its anonymous volumes.
// Owned by the Autoscaler; one action at a time; close(done) before destroying. Loop thread.
// The one thing to get right: never copy the template's Hostname (the node's id in the mesh)
// or its anonymous volumes (its data); Docker gives the new container its own.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <vector>

#include "load-balancer/docker/engine_client.h"
#include "load-balancer/proxy/backend_pool.h"

namespace lb {

struct GroupMember {
  std::string id;
  std::string name;
  int number = 0;  // com.docker.compose.container-number
  bool running = false;
};

// The group's containers (one-off containers of `compose run` excluded), all states.
struct GroupView {
  std::string project;
  std::string service;
  std::vector<GroupMember> members;
  int running() const;
  const GroupMember* highestRunning() const;
  int nextNumber() const;
};

struct ScalingResult {
  bool ok = false;
  std::string container;  // the container created or removed
  std::string error;
};

class ComposeActuator {
 public:
  ComposeActuator(uv_loop_t* loop, EngineClient& engine, BackendPool& pool, uint64_t drainMs);
  ~ComposeActuator();
  ComposeActuator(const ComposeActuator&) = delete;
  ComposeActuator& operator=(const ComposeActuator&) = delete;

  void scaleUp(const GroupView& group, std::function<void(ScalingResult)> done);
  void scaleDown(const GroupView& group, std::function<void(ScalingResult)> done);
  void close(std::function<void()> done);

 private:
  static void onDrainTick(uv_timer_t* t) noexcept;
  void create(const std::string& body, const std::string& name);
  void stopAndRemove();
  void finish(bool ok, std::string error);

  uv_loop_t* loop_;
  EngineClient& engine_;
  BackendPool& pool_;
  uint64_t drainMs_;
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
