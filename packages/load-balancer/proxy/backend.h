// lb::Backend: one place connections can go (a container of the watched group, or a static
// BACKENDS entry) with its state and counters. The BackendPool owns backends through
// shared_ptr; a Session keeps its backend alive with a shared_ptr of its own, so a backend
// removed while connections are open stays valid (state kRemoved) until the last one closes.
// Loop thread only. A backend is routable only when usable(): ready, passing its active checks
// (static mode) and not taken out by passive health (refused connects in a row).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace lb {

enum class BackendState : uint8_t {
  kReady,     // gets new connections
  kDraining,  // no new connections; open ones continue (Docker `kill`)
  kRemoved,   // gone from the pool; kept alive only by open sessions
};

std::string_view toString(BackendState s);

struct Backend : std::enable_shared_from_this<Backend> {
  std::string id;       // container id, or "host:port" in static mode
  std::string name;     // container name, or the BACKENDS entry
  std::string address;  // "ip:port", for logs and /status
  sockaddr_storage addr{};
  BackendState state = BackendState::kReady;

  bool checkUp = true;  // active TCP checks (static mode); always true otherwise
  uint32_t checkSuccesses = 0;
  uint32_t checkFailures = 0;

  uint32_t consecutiveFailures = 0;  // passive health: failed connects in a row
  uint64_t downUntilMs = 0;          // loop time until which passive health keeps it out

  uint64_t openConnections = 0;  // connecting or proxying
  uint64_t totalConnections = 0;
  uint64_t failures = 0;  // failed connects, all time
  uint64_t bytesIn = 0;   // client -> this backend, all time
  uint64_t bytesOut = 0;  // this backend -> client

  bool routable() const { return state == BackendState::kReady && checkUp; }
  bool usable(uint64_t nowMs) const { return routable() && downUntilMs <= nowMs; }
  const sockaddr* sockAddr() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

}  // namespace lb
