// See compose_spec.h.
#include "load-balancer/autoscale/compose_spec.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "load-balancer/autoscale/container_stats.h"

namespace lb {

std::string composeCreateBody(const rapidjson::Value& inspect, const std::string& service,
                              int number, std::string& error) {
  rapidjson::Document body(rapidjson::kObjectType);
  auto& a = body.GetAllocator();
  auto config = inspect.FindMember("Config");
  auto host = inspect.FindMember("HostConfig");
  auto settings = inspect.FindMember("NetworkSettings");
  if (config == inspect.MemberEnd() || !config->value.IsObject() || host == inspect.MemberEnd() ||
      settings == inspect.MemberEnd() || !settings->value.IsObject()) {
    error = "the template container's inspect lacks Config, HostConfig or NetworkSettings";
    return "";
  }
  body.CopyFrom(config->value, a);
  body.RemoveMember("Hostname");  // Docker gives each container its own (the node's id)
  body.RemoveMember("Domainname");
  auto labels = body.FindMember("Labels");
  if (labels == body.MemberEnd() || !labels->value.IsObject()) {
    error = "the template container has no labels";
    return "";
  }
  labels->value.RemoveMember(kComposeNumber);
  labels->value.AddMember(rapidjson::StringRef(kComposeNumber),
                          rapidjson::Value(std::to_string(number).c_str(), a), a);
  rapidjson::Value hostConfig;
  hostConfig.CopyFrom(host->value, a);
  auto mounts = hostConfig.FindMember("Mounts");
  if (mounts != hostConfig.MemberEnd() && mounts->value.IsArray()) {
    auto& m = mounts->value;
    for (auto it = m.Begin(); it != m.End();) {
      auto type = it->FindMember("Type");
      bool volume = type != it->MemberEnd() && type->value.IsString() &&
                    std::string_view(type->value.GetString()) == "volume";
      it = volume ? m.Erase(it) : it + 1;
    }
  }
  body.AddMember("HostConfig", hostConfig, a);
  auto nets = settings->value.FindMember("Networks");
  if (nets != settings->value.MemberEnd() && nets->value.IsObject() &&
      nets->value.MemberCount() > 0) {
    rapidjson::Value aliases(rapidjson::kArrayType);
    aliases.PushBack(rapidjson::Value(service.c_str(), a), a);
    rapidjson::Value endpoint(rapidjson::kObjectType);
    endpoint.AddMember("Aliases", aliases, a);
    rapidjson::Value endpoints(rapidjson::kObjectType);
    endpoints.AddMember(rapidjson::Value(nets->value.MemberBegin()->name, a), endpoint, a);
    rapidjson::Value networking(rapidjson::kObjectType);
    networking.AddMember("EndpointsConfig", endpoints, a);
    body.AddMember("NetworkingConfig", networking, a);
  }
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  body.Accept(w);
  return std::string(out.GetString(), out.GetSize());
}

std::string composeName(const std::string& templateName, int number) {
  std::string n = templateName.rfind('/', 0) == 0 ? templateName.substr(1) : templateName;
  size_t sep = n.find_last_of("-_");
  return (sep == std::string::npos ? n + "-" : n.substr(0, sep + 1)) + std::to_string(number);
}

}  // namespace lb
