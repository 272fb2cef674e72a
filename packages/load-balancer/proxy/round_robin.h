// lb::RoundRobin: per-connection round robin. A cursor walks the candidate list; a candidate
// that is not accepted is skipped without losing the rotation. When the candidate list changes
// (a container comes or goes) the cursor keeps its index, so the rotation stays roughly fair.
#pragma once

#include <cstddef>

#include "load-balancer/proxy/balancer.h"

namespace lb {

class RoundRobin final : public Balancer {
 public:
  Backend* pick(const std::vector<Backend*>& candidates,
                absl::FunctionRef<bool(const Backend&)> accept) override;

 private:
  size_t next_ = 0;
};

}  // namespace lb
