// See fake_swarm.h. Only the fields the watcher reads are written, in the daemon's shapes.
#include "load-balancer/testing/fake_swarm.h"

#include <cstdio>

namespace lb::testing {

FakeSwarm::FakeSwarm(FakeDocker& docker, std::string service)
    : docker_(docker), service_(std::move(service)) {
  docker_.extraRoutes = [this](const std::string& path, const std::string& query) {
    return route(path, query);
  };
}

FakeTask& FakeSwarm::add(const std::string& id, const std::string& ip, const std::string& state) {
  FakeTask t;
  t.id = id;
  t.slot = static_cast<int>(tasks_.size()) + 1;
  t.state = state;
  t.containerId = "c-" + id;
  if (!ip.empty()) t.networks["stack_mesh"] = ip;
  t.networks["ingress"] = "10.0.0.99";
  return tasks_[id] = t;
}

FakeTask* FakeSwarm::find(const std::string& id) {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : &it->second;
}

std::pair<int, std::string> FakeSwarm::route(const std::string& path, const std::string& query) {
  if (path == "/info") {
    return {200, std::string("{\"Swarm\":{\"LocalNodeState\":\"active\",\"ControlAvailable\":") +
                     (manager ? "true" : "false") + "}}"};
  }
  if (path == "/tasks") {
    if (!manager) return {503, "{\"message\":\"This node is not a swarm manager.\"}"};
    ++taskLists;
    lastTaskQuery = query;
    if (!serviceExists) return {404, "{\"message\":\"service " + service_ + " not found\"}"};
    return {200, tasksJson()};
  }
  return {0, ""};
}

std::string FakeSwarm::tasksJson() const {
  std::string out = "[";
  for (const auto& [id, t] : tasks_) {
    if (out.size() > 1) out += ",";
    out += "{\"ID\":\"" + id + "\",\"ServiceID\":\"svc1\",\"Slot\":" + std::to_string(t.slot) +
           ",\"NodeID\":\"node1\",\"DesiredState\":\"" + t.desired + "\",\"Status\":{\"State\":\"" +
           t.state + "\",\"ContainerStatus\":{\"ContainerID\":\"" + t.containerId +
           "\"}},\"NetworksAttachments\":[";
    bool first = true;
    for (const auto& [net, ip] : t.networks) {
      if (!first) out += ",";
      first = false;
      out += "{\"Network\":{\"ID\":\"n-" + net + "\",\"Spec\":{\"Name\":\"" + net + "\"" +
             (net == "ingress" ? ",\"Ingress\":true" : "") + "}},\"Addresses\":[\"" + ip +
             "/24\"]}";
    }
    out += "]}";
  }
  return out + "]";
}

std::string FakeSwarm::serviceEvent(const std::string& action) {
  timeNano_ += 1000;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"Type\":\"service\",\"Action\":\"%s\",\"Actor\":{\"ID\":\"svc1\",\"Attributes\":"
                "{\"name\":\"%s\"}},\"scope\":\"swarm\",\"time\":%lld,\"timeNano\":%lld}\n",
                action.c_str(), service_.c_str(), timeNano_ / 1000000000LL, timeNano_);
  return buf;
}

std::string FakeSwarm::containerEvent(const std::string& taskId, const std::string& action,
                                      const std::string& extra) {
  timeNano_ += 1000;
  const FakeTask* t = find(taskId);
  std::string cid = t ? t->containerId : "c-" + taskId;
  std::string attrs = "\"com.docker.swarm.service.name\":\"" + service_ +
                      "\",\"com.docker.swarm.task.id\":\"" + taskId + "\",\"name\":\"" + service_ +
                      ".1." + taskId + "\"";
  if (!extra.empty()) attrs += "," + extra;
  return "{\"Type\":\"container\",\"Action\":\"" + action + "\",\"Actor\":{\"ID\":\"" + cid +
         "\",\"Attributes\":{" + attrs +
         "}},\"scope\":\"local\",\"time\":" + std::to_string(timeNano_ / 1000000000LL) +
         ",\"timeNano\":" + std::to_string(timeNano_) + "}\n";
}

}  // namespace lb::testing
