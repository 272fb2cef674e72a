// See backend_pool.h. Membership changes are rare (container events), connects are frequent:
// candidates_ is rebuilt on each change so picking never allocates.
#include "load-balancer/proxy/backend_pool.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace lb {

std::string_view toString(BackendState s) {
  switch (s) {
    case BackendState::kReady:
      return "ready";
    case BackendState::kDraining:
      return "draining";
    case BackendState::kRemoved:
      return "removed";
  }
  return "unknown";
}

Backend& BackendPool::upsert(const std::string& id, const std::string& name,
                             const sockaddr_storage& addr, BackendState state) {
  auto it = byId_.find(id);
  Backend* b;
  if (it == byId_.end()) {
    auto sp = std::make_shared<Backend>();
    sp->id = id;
    b = sp.get();
    backends_.push_back(std::move(sp));
    byId_.emplace(id, b);
  } else {
    b = it->second;
  }
  b->name = name;
  b->addr = addr;
  b->address = formatAddress(addr);
  bool changed = b->state != state || it == byId_.end();
  b->state = state;
  if (state == BackendState::kRemoved) {
    setState(id, state);
    return *b;
  }
  rebuild();
  if (changed && onChange_) onChange_(*b);
  return *b;
}

bool BackendPool::setState(const std::string& id, BackendState state) {
  auto it = byId_.find(id);
  if (it == byId_.end()) return false;
  Backend* b = it->second;
  b->state = state;
  std::shared_ptr<Backend> keep;
  if (state == BackendState::kRemoved) {
    byId_.erase(it);
    auto pos = std::find_if(backends_.begin(), backends_.end(),
                            [&](const std::shared_ptr<Backend>& p) { return p.get() == b; });
    keep = *pos;  // alive until the callback below returned
    backends_.erase(pos);
  }
  rebuild();
  if (onChange_) onChange_(*b);
  return true;
}

Backend* BackendPool::find(const std::string& id) const {
  auto it = byId_.find(id);
  return it == byId_.end() ? nullptr : it->second;
}

std::shared_ptr<Backend> BackendPool::share(const Backend* b) const {
  for (const auto& p : backends_) {
    if (p.get() == b) return p;
  }
  return nullptr;
}

void BackendPool::connectFailed(Backend& b, uint64_t nowMs) {
  ++b.failures;
  ++b.consecutiveFailures;
  if (b.consecutiveFailures >= opts_.failures && b.downUntilMs <= nowMs) {
    b.downUntilMs = nowMs + opts_.downMs;
    spdlog::warn("backend {} ({}) refused {} connects in a row: out for {} ms", b.name, b.address,
                 b.consecutiveFailures, opts_.downMs);
  }
}

void BackendPool::connectSucceeded(Backend& b) {
  if (b.consecutiveFailures >= opts_.failures) {
    spdlog::info("backend {} ({}) answers again", b.name, b.address);
  }
  b.consecutiveFailures = 0;
  b.downUntilMs = 0;
}

void BackendPool::rebuild() {
  candidates_.clear();
  for (const auto& b : backends_) {
    if (b->routable()) candidates_.push_back(b.get());
  }
}

std::string formatAddress(const sockaddr_storage& addr) {
  char ip[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "?";
}

bool makeAddress(const std::string& ip, int port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (port < 0 || port > 65535) return false;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&out);
  if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(port));
    return true;
  }
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    return true;
  }
  return false;
}

}  // namespace lb
