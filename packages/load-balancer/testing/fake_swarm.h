// FakeSwarm: the Swarm API of a manager on top of FakeDocker, for the SwarmWatcher and
// SwarmActuator tests: GET /info (Swarm.ControlAvailable, NodeID), GET /tasks?filters=...
// (the tasks of the one fake service, as swarmkit shapes them), GET /services/{name or id}
// and POST /services/{id}/update?version=N (the version checked like swarmkit: a stale one is
// "update out of sequence"; the spec stored as sent), and the events Swarm emits (a service
// event, and
// container events carrying a task's labels). Tests change a task's state and DesiredState
// the way the orchestrator and an agent would, then push the event a real daemon would send.
// Test-only; runs on the test's loop through FakeDocker's extraRoutes hook.
#pragma once

#include <map>
#include <string>

#include "load-balancer/testing/fake_docker.h"

namespace lb::testing {

struct FakeTask {
  std::string id;
  int slot = 1;
  std::string state = "running";    // swarmkit TaskState
  std::string desired = "running";  // DesiredState
  std::string containerId;
  std::string node = "node1";                   // node1 is the fake engine's own node
  std::map<std::string, std::string> networks;  // network name -> IP (CIDR added)
};

class FakeSwarm {
 public:
  FakeSwarm(FakeDocker& docker, std::string service);

  FakeTask& add(const std::string& id, const std::string& ip, const std::string& state = "running");
  FakeTask* find(const std::string& id);

  // Events as the daemon writes them.
  std::string serviceEvent(const std::string& action);
  std::string containerEvent(const std::string& taskId, const std::string& action,
                             const std::string& extra = "");

  bool manager = true;  // /info's Swarm.ControlAvailable
  bool serviceExists = true;
  int taskLists = 0;
  std::string lastTaskQuery;

  // The service (GET /services/..., POST .../update).
  uint64_t version = 10;
  std::string spec;     // the Spec as the manager holds it (JSON); a replicated service of 3
  int conflicts = 0;    // the next N updates lose a race: version bumped, "out of sequence"
  int failUpdates = 0;  // the next N updates fail with another error
  int replicas() const;

 private:
  std::pair<int, std::string> route(const FakeRequest& r);
  std::pair<int, std::string> update(const FakeRequest& r);
  std::string tasksJson() const;

  FakeDocker& docker_;
  std::string service_;
  std::map<std::string, FakeTask> tasks_;
  long long timeNano_ = 1800000000000000000LL;
};

}  // namespace lb::testing
