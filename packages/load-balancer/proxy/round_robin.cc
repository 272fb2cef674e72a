// See round_robin.h.
#include "load-balancer/proxy/round_robin.h"

namespace lb {

Backend* RoundRobin::pick(const std::vector<Backend*>& candidates,
                          absl::FunctionRef<bool(const Backend&)> accept) {
  const size_t n = candidates.size();
  for (size_t i = 0; i < n; ++i) {
    size_t idx = (next_ + i) % n;
    if (accept(*candidates[idx])) {
      next_ = idx + 1;
      return candidates[idx];
    }
  }
  return nullptr;
}

}  // namespace lb
