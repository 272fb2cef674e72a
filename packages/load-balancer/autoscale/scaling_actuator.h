// lb::ScalingActuator: what the Autoscaler needs from an orchestrator, so one Autoscaler (the
// policy, the CPU stats, the log and the counters) drives either Docker Compose
// (ComposeActuator: containers made and removed the way Compose would) or Docker Swarm
// (SwarmActuator: the service's replicas). list() says what the group is now; scaleUp() and
// scaleDown() carry out one decision and answer exactly once (unless close() came first).
// Owned by the Autoscaler, which also owns the EngineClient the actuator talks through; one
// action at a time; close(done) before destroying. Loop thread only.
// The one thing to get right: GroupMember::statsId is the container whose stats this engine
// can read; a Swarm task on another host has none, and counts in the size but not in the CPU.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace lb {

struct GroupMember {
  std::string id;        // container id (Compose) or task id (Swarm)
  std::string name;      // for logs
  int number = 0;        // com.docker.compose.container-number, or the task's slot
  bool running = false;  // counts in the group's size
  std::string statsId;   // container to read /stats from on this engine; "" = not reachable here
};

// The group's members (Compose: one-off containers of `compose run` excluded, all states;
// Swarm: the tasks Swarm wants running).
struct GroupView {
  std::string project;  // compose project, or the swarm service
  std::string service;
  std::vector<GroupMember> members;
  int running() const;
  const GroupMember* highestRunning() const;
  int nextNumber() const;
};

enum class ListOutcome { kListed, kNoGroup, kFailed };

struct GroupListing {
  ListOutcome outcome = ListOutcome::kFailed;
  GroupView group;
  std::string error;  // why kNoGroup (nothing to scale yet: waiting) or kFailed (retried)
};

struct ScalingResult {
  bool ok = false;
  std::string container;  // what was created or removed, or the replicas change
  std::string error;
};

class ScalingActuator {
 public:
  virtual ~ScalingActuator() = default;
  virtual void list(std::function<void(GroupListing)> done) = 0;
  virtual void scaleUp(const GroupView& group, std::function<void(ScalingResult)> done) = 0;
  virtual void scaleDown(const GroupView& group, std::function<void(ScalingResult)> done) = 0;
  virtual void close(std::function<void()> done) = 0;
};

}  // namespace lb
