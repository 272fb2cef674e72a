// lb::cpuCores and the Compose labels: what the autoscaler reads from the Docker Engine's JSON.
// cpuCores turns one answer of GET /containers/{id}/stats?stream=false into the cores the
// container used between the two samples it carries (cpu_stats and precpu_stats), the figure
// `docker stats` shows as a percentage. Pure functions, any thread.
// The one thing to get right: system_cpu_usage sums every CPU of the host, so the ratio of the
// deltas is a share of the whole host; multiply by online_cpus to get cores.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>

namespace lb {

inline constexpr const char* kComposeProject = "com.docker.compose.project";
inline constexpr const char* kComposeService = "com.docker.compose.service";
inline constexpr const char* kComposeNumber = "com.docker.compose.container-number";
inline constexpr const char* kComposeOneOff = "com.docker.compose.oneoff";

// Cores used, or nullopt when the answer lacks a previous sample (first read of a container).
std::optional<double> cpuCores(const rapidjson::Value& stats);

// A string label of a container (inspect's Config.Labels or a list entry's Labels), "" if absent.
std::string label(const rapidjson::Value& labels, const char* name);

}  // namespace lb
