// FakeSwarm: the Swarm API of a manager on top of FakeDocker, for the SwarmWatcher tests:
// GET /info (Swarm.ControlAvailable), GET /tasks?filters={"service":[...]} (the tasks of the
// one fake service, as swarmkit shapes them) and the events Swarm emits (a service event, and
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

 private:
  std::pair<int, std::string> route(const std::string& path, const std::string& query);
  std::string tasksJson() const;

  FakeDocker& docker_;
  std::string service_;
  std::map<std::string, FakeTask> tasks_;
  long long timeNano_ = 1800000000000000000LL;
};

}  // namespace lb::testing
