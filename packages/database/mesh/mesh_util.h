// Small helpers shared by the mesh's parts (MeshCluster and the parts it owns) and nothing else:
// hex formatting of digests, one query parameter, the binary content type, the wall clock.
// Header-only, pure.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/http/url.h"
#include "database/mesh/store_bridge.h"
#include "database/storage/hlc.h"

namespace db::mesh_util {

inline constexpr std::string_view kOctet = "application/octet-stream";

inline std::string hex64(uint64_t v) {
  static const char* kHex = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = kHex[v & 15];
  return s;
}

// The value of the first `name` parameter of a query string, "" when absent or unparsable.
inline std::string queryParam(std::string_view query, std::string_view name) {
  auto params = common::parseQuery(query);
  if (!params.ok()) return {};
  for (const auto& p : params.value()) {
    if (p.name == name) return p.value;
  }
  return {};
}

// The wall clock in ms since the epoch (signatures, incarnations, the age of recovered data).
inline uint64_t wallMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Every write of ours so far has hlc <= last(); every later one will be stamped above both
// last() and pack(wall now, 0) - 1. So when nothing is outstanding, all our writes up to this
// value are delivered (the tombstone horizon and the `delivered` we gossip start from it).
inline uint64_t stableHlc(StoreBridge& store) {
  uint64_t wallFloor = Hlc::pack(store.wallMs(), 0);
  return std::max(store.lastHlc(), wallFloor > 0 ? wallFloor - 1 : 0);
}

}  // namespace db::mesh_util
