// See swarm_tasks.h. Task states are swarmkit's (api/types.proto TaskState): new, pending,
// assigned, accepted, preparing, ready, starting, running, complete, shutdown, failed,
// rejected, remove, orphaned. Addresses come as CIDR ("10.0.1.5/24").
#include "load-balancer/docker/swarm_tasks.h"

#include <rapidjson/document.h>

namespace lb {

namespace {

std::string str(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

const rapidjson::Value* member(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

bool preRunning(const std::string& s) {
  return s == "new" || s == "pending" || s == "assigned" || s == "accepted" || s == "preparing" ||
         s == "ready" || s == "starting";
}

TaskPhase phaseOf(const std::string& state, const std::string& desired) {
  if (state == "running") return desired == "running" ? TaskPhase::kRunning : TaskPhase::kStopping;
  if (preRunning(state) && desired == "running") return TaskPhase::kStarting;
  return TaskPhase::kGone;
}

// The address on the wanted network: "10.0.1.5/24" -> "10.0.1.5".
std::string addressOf(const rapidjson::Value& task, const std::string& network) {
  const rapidjson::Value* atts = member(task, "NetworksAttachments");
  if (atts == nullptr || !atts->IsArray()) return {};
  for (auto& a : atts->GetArray()) {
    const rapidjson::Value* net = member(a, "Network");
    const rapidjson::Value* spec = net ? member(*net, "Spec") : nullptr;
    std::string name = spec ? str(*spec, "Name") : "";
    const rapidjson::Value* ingress = spec ? member(*spec, "Ingress") : nullptr;
    bool isIngress =
        (ingress != nullptr && ingress->IsBool() && ingress->GetBool()) || name == "ingress";
    if (network.empty() ? isIngress : !networkMatches(name, network)) continue;
    const rapidjson::Value* addrs = member(a, "Addresses");
    if (addrs == nullptr || !addrs->IsArray() || addrs->Empty() || !(*addrs)[0].IsString())
      continue;
    std::string cidr = (*addrs)[0].GetString();
    return cidr.substr(0, cidr.find('/'));
  }
  return {};
}

}  // namespace

std::string_view toString(TaskPhase p) {
  switch (p) {
    case TaskPhase::kStarting:
      return "starting";
    case TaskPhase::kRunning:
      return "running";
    case TaskPhase::kStopping:
      return "stopping";
    case TaskPhase::kGone:
      return "gone";
  }
  return "?";
}

bool networkMatches(std::string_view name, std::string_view wanted) {
  if (name == wanted) return true;
  return name.size() > wanted.size() + 1 && name.substr(name.size() - wanted.size()) == wanted &&
         name[name.size() - wanted.size() - 1] == '_';
}

common::Result<std::vector<SwarmTask>> parseTasks(std::string_view json,
                                                  const std::string& serviceName,
                                                  const std::string& network) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsArray())
    return common::Error{"BAD_TASKS", "the task listing is not a JSON array"};
  std::vector<SwarmTask> out;
  for (auto& t : d.GetArray()) {
    SwarmTask task;
    task.id = str(t, "ID");
    const rapidjson::Value* status = member(t, "Status");
    if (task.id.empty() || status == nullptr || !status->IsObject()) continue;
    task.phase = phaseOf(str(*status, "State"), str(t, "DesiredState"));
    const rapidjson::Value* cs = member(*status, "ContainerStatus");
    task.containerId = cs ? str(*cs, "ContainerID") : "";
    const rapidjson::Value* slot = member(t, "Slot");
    std::string middle = slot != nullptr && slot->IsUint() ? std::to_string(slot->GetUint())
                                                           : str(t, "NodeID");  // global mode
    task.name = serviceName + "." + middle + "." + task.id;
    task.nodeId = str(t, "NodeID");
    if (slot != nullptr && slot->IsUint() && slot->GetUint() <= 1000000)
      task.slot = static_cast<int>(slot->GetUint());
    task.ip = addressOf(t, network);
    out.push_back(std::move(task));
  }
  return out;
}

}  // namespace lb
