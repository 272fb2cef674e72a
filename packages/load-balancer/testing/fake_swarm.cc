// See fake_swarm.h. Only the fields the watcher reads are written, in the daemon's shapes.
#include "load-balancer/testing/fake_swarm.h"

#include <rapidjson/document.h>

#include <cstdio>

namespace lb::testing {

FakeSwarm::FakeSwarm(FakeDocker& docker, std::string service)
    : docker_(docker), service_(std::move(service)) {
  // What `docker stack deploy` leaves: a label, a template (expanded per task by Swarm, so it
  // must come back verbatim), ForceUpdate, a grace period, update and endpoint settings.
  spec = R"({"Name":")" + service_ +
         R"(","Labels":{"com.docker.stack.namespace":"stack"},"TaskTemplate":{"ContainerSpec":)"
         R"({"Image":"meshkv/node:local","Env":["GROUP_PROJECT={{index .Service.Labels \"com.)"
         R"(docker.stack.namespace\"}}","PORT=80"],"StopGracePeriod":15000000000,"Healthcheck":)"
         R"({"Test":["CMD","meshkv-node","--healthcheck"],"Interval":1000000000}},"ForceUpdate":)"
         R"(2,"Runtime":"container"},"Mode":{"Replicated":{"Replicas":3}},"UpdateConfig":)"
         R"({"Parallelism":1,"Order":"start-first","MaxFailureRatio":0.5},"EndpointSpec":)"
         R"({"Mode":"dnsrr"}})";
  docker_.extraRoutes = [this](const FakeRequest& r) { return route(r); };
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

int FakeSwarm::replicas() const {
  rapidjson::Document d;
  d.Parse(spec.c_str());
  return d["Mode"]["Replicated"]["Replicas"].GetInt();
}

std::pair<int, std::string> FakeSwarm::update(const FakeRequest& r) {
  if (r.query != "version=" + std::to_string(version) || conflicts > 0) {
    if (conflicts > 0) {
      --conflicts;
      ++version;  // someone else's update landed first
    }
    return {500, R"({"message":"rpc error: code = Unknown desc = update out of sequence"})"};
  }
  if (failUpdates > 0) {
    --failUpdates;
    return {500, R"({"message":"rpc error: code = Unavailable desc = raft: no leader"})"};
  }
  rapidjson::Document d;
  d.Parse(r.body.c_str(), r.body.size());
  if (d.HasParseError() || !d.IsObject()) return {400, R"({"message":"bad spec"})"};
  spec = r.body;
  ++version;
  return {200, R"({"Warnings":null})"};
}

std::pair<int, std::string> FakeSwarm::route(const FakeRequest& r) {
  const std::string& path = r.path;
  const std::string& query = r.query;
  if (path == "/info") {
    return {200, std::string(R"({"Swarm":{"NodeID":"node1","LocalNodeState":"active",)"
                             R"("ControlAvailable":)") +
                     (manager ? "true" : "false") + "}}"};
  }
  if (path == "/services/" + service_ || path == "/services/svc1") {
    if (!serviceExists) return {404, R"({"message":"service )" + service_ + R"( not found"})"};
    if (r.method == "GET") {
      return {200, R"({"ID":"svc1","Version":{"Index":)" + std::to_string(version) +
                       R"(},"CreatedAt":"2026-12-05T00:00:00Z","Spec":)" + spec + "}"};
    }
  }
  if (r.method == "POST" && path == "/services/svc1/update") return update(r);
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
           ",\"NodeID\":\"" + t.node + "\",\"DesiredState\":\"" + t.desired +
           "\",\"Status\":{\"State\":\"" + t.state + "\",\"ContainerStatus\":{\"ContainerID\":\"" +
           t.containerId + "\"}},\"NetworksAttachments\":[";
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
