// lb::LeastConn: the accepted candidate with the fewest open connections (connecting ones
// count); ties go round robin so equal backends share new connections evenly.
#pragma once

#include <cstddef>

#include "load-balancer/proxy/balancer.h"

namespace lb {

class LeastConn final : public Balancer {
 public:
  Backend* pick(const std::vector<Backend*>& candidates,
                absl::FunctionRef<bool(const Backend&)> accept) override;

 private:
  size_t next_ = 0;
};

}  // namespace lb
