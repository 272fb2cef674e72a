// lb::SwarmTask and parseTasks(): what the balancer needs from the Swarm API's GET /tasks answer,
// decoded once so the watcher only reconciles. A task is routable only when Swarm wants it
// running (DesiredState) AND it is running (Status.State); Swarm holds a task with a
// healthcheck in "starting" until the container is healthy, so "running" already means healthy.
// A task still running whose DesiredState is no longer "running" is being stopped (scale-down,
// rolling update, drain): it is drained before its container gets SIGTERM. The address is the
// task's on the chosen overlay network (NetworksAttachments), never the ingress network's.
// Pure logic; called by the SwarmWatcher on the loop thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.h"

namespace lb {

enum class TaskPhase : uint8_t {
  kStarting,  // desired running, not running yet (pending ... starting: health not yet passed)
  kRunning,   // desired running and running: routable
  kStopping,  // running, but Swarm wants it gone: drain, no new connections
  kGone,      // shutdown, failed, complete, rejected, orphaned, remove
};

std::string_view toString(TaskPhase p);

struct SwarmTask {
  std::string id;           // task id: the backend's key
  std::string name;         // <service>.<slot>.<task id> (the container's name), for logs
  std::string containerId;  // "" until a container exists
  std::string ip;           // on the chosen network; "" when it has none there
  std::string nodeId;       // the host it runs on (the autoscaler reads stats of local ones)
  int slot = 0;             // replicated services: 1..replicas; 0 in global mode
  TaskPhase phase = TaskPhase::kGone;
};

// Decodes a /tasks answer (a JSON array). network: the network whose address to take ("" =
// the first that is not the ingress network; "mesh" also matches a stack's "<stack>_mesh").
// serviceName names tasks in logs. Unexpected shapes skip the task, never the answer.
common::Result<std::vector<SwarmTask>> parseTasks(std::string_view json,
                                                  const std::string& serviceName,
                                                  const std::string& network);

// Whether a Swarm network name is `wanted`, or a stack's namespaced "<stack>_<wanted>".
bool networkMatches(std::string_view name, std::string_view wanted);

}  // namespace lb
