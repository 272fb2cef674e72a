// lb::Balancer: the balancing strategy, a tiny interface with one operation (h2o's style). The
// Session asks it for a backend among the pool's routable candidates, passing a predicate that
// excludes backends this connection already tried and ones passive health took out.
// Implementations: RoundRobin (round_robin.h) and LeastConn (least_conn.h). Loop thread only;
// a balancer keeps no pointer to a backend beyond the call.
#pragma once

#include <absl/functional/function_ref.h>

#include <memory>
#include <string_view>
#include <vector>

#include "load-balancer/proxy/backend.h"

namespace lb {

class Balancer {
 public:
  virtual ~Balancer() = default;
  // Returns one of `candidates` for which accept() holds, or nullptr when none does.
  virtual Backend* pick(const std::vector<Backend*>& candidates,
                        absl::FunctionRef<bool(const Backend&)> accept) = 0;
};

// "roundrobin" or "leastconn"; nullptr for anything else.
std::unique_ptr<Balancer> makeBalancer(std::string_view name);

}  // namespace lb
