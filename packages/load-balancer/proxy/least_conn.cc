// See least_conn.h.
#include "load-balancer/proxy/least_conn.h"

#include "load-balancer/proxy/round_robin.h"

namespace lb {

Backend* LeastConn::pick(const std::vector<Backend*>& candidates,
                         absl::FunctionRef<bool(const Backend&)> accept) {
  const size_t n = candidates.size();
  Backend* best = nullptr;
  size_t bestIdx = 0;
  for (size_t i = 0; i < n; ++i) {
    size_t idx = (next_ + i) % n;
    Backend* b = candidates[idx];
    if (!accept(*b)) continue;
    if (best == nullptr || b->openConnections < best->openConnections) {
      best = b;
      bestIdx = idx;
    }
  }
  if (best != nullptr) next_ = bestIdx + 1;
  return best;
}

std::unique_ptr<Balancer> makeBalancer(std::string_view name) {
  if (name == "roundrobin") return std::make_unique<RoundRobin>();
  if (name == "leastconn") return std::make_unique<LeastConn>();
  return nullptr;
}

}  // namespace lb
