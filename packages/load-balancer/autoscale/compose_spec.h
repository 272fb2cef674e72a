// lb::composeCreateBody and lb::composeName: the POST /containers/create request that makes one
// more container of a Compose service from an existing one (its inspect), the way Compose's
// `up --scale` would: the template's Config and HostConfig, the next container number, the
// service's network alias, the name <project>-<service>-<n>. Pure functions, any thread; used
// by the ComposeActuator.
// The one thing to get right: the template's Hostname (a node's id in the mesh) and its
// anonymous volumes (its data) are NOT copied; Docker gives the new container its own.
#pragma once

#include <rapidjson/document.h>

#include <string>

namespace lb {

// The create body, or "" with `error` set when the inspect lacks what it needs.
std::string composeCreateBody(const rapidjson::Value& inspect, const std::string& service,
                              int number, std::string& error);

// "/meshkv-database-2" -> "meshkv-database-<number>" (Compose v1's '_' kept as it was).
std::string composeName(const std::string& templateName, int number);

}  // namespace lb
