// lb::BackendPool: the set of backends connections may go to, keyed by id (a container id in
// Docker mode, "host:port" in static mode). The Docker watcher or the static configuration
// adds, drains and removes backends; the Session picks from candidates() through a Balancer
// and reports each connect's outcome here, which drives passive health (a backend refusing
// `passiveFailures` connects in a row is taken out for `passiveDownMs`).
// Loop thread only. Removing a backend never invalidates a Session's shared_ptr to it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "load-balancer/proxy/backend.h"

namespace lb {

struct PassiveHealthOptions {
  uint32_t failures = 3;    // consecutive failed connects that take a backend out
  uint64_t downMs = 10000;  // for how long
};

class BackendPool {
 public:
  explicit BackendPool(PassiveHealthOptions opts = {}) : opts_(opts) {}

  // Adds a backend, or updates the address and name of a known one; sets its state.
  Backend& upsert(const std::string& id, const std::string& name, const sockaddr_storage& addr,
                  BackendState state);
  // Changes the state of a known backend; false if unknown. kRemoved removes it.
  bool setState(const std::string& id, BackendState state);
  bool remove(const std::string& id) { return setState(id, BackendState::kRemoved); }
  Backend* find(const std::string& id) const;
  std::shared_ptr<Backend> share(const Backend* b) const;

  // The backends in state kReady passing active checks, in a stable order (insertion).
  const std::vector<Backend*>& candidates() const { return candidates_; }
  // Every backend in the pool (ready or draining), in insertion order.
  const std::vector<std::shared_ptr<Backend>>& all() const { return backends_; }

  // Passive health bookkeeping, called by sessions.
  void connectFailed(Backend& b, uint64_t nowMs);
  void connectSucceeded(Backend& b);
  // Active checks changed checkUp: recompute the candidates.
  void checksChanged() { rebuild(); }

  // Called after every change of membership or state (for logs and the admin page).
  void onChange(std::function<void(const Backend&)> f) { onChange_ = std::move(f); }

  const PassiveHealthOptions& options() const { return opts_; }

 private:
  void rebuild();

  PassiveHealthOptions opts_;
  std::vector<std::shared_ptr<Backend>> backends_;
  std::unordered_map<std::string, Backend*> byId_;
  std::vector<Backend*> candidates_;
  std::function<void(const Backend&)> onChange_;
};

// "1.2.3.4:80" / "[::1]:80" for a sockaddr.
std::string formatAddress(const sockaddr_storage& addr);
// Numeric IPv4/IPv6 text plus a port into a sockaddr; false if not numeric.
bool makeAddress(const std::string& ip, int port, sockaddr_storage& out);

}  // namespace lb
