// See container_stats.h.
#include "load-balancer/autoscale/container_stats.h"

namespace lb {

namespace {

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(name);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

std::optional<double> number(const rapidjson::Value* v) {
  if (v == nullptr || !v->IsNumber()) return std::nullopt;
  return v->GetDouble();
}

}  // namespace

std::optional<double> cpuCores(const rapidjson::Value& stats) {
  const rapidjson::Value* now = member(stats, "cpu_stats");
  const rapidjson::Value* before = member(stats, "precpu_stats");
  if (now == nullptr || before == nullptr) return std::nullopt;
  auto total = [](const rapidjson::Value* s) {
    const rapidjson::Value* usage = member(*s, "cpu_usage");
    return usage == nullptr ? std::nullopt : number(member(*usage, "total_usage"));
  };
  auto t1 = total(now), t0 = total(before);
  auto s1 = number(member(*now, "system_cpu_usage"));
  auto s0 = number(member(*before, "system_cpu_usage"));
  auto cpus = number(member(*now, "online_cpus"));
  if (!t1 || !t0 || !s1 || !s0 || *s0 == 0 || *s1 <= *s0 || *t1 < *t0) return std::nullopt;
  return (*t1 - *t0) / (*s1 - *s0) * (cpus && *cpus > 0 ? *cpus : 1);
}

std::string label(const rapidjson::Value& labels, const char* name) {
  const rapidjson::Value* v = member(labels, name);
  return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

}  // namespace lb
