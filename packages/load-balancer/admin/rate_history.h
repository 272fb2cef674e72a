// lb::RateHistory: the last minutes of each backend's traffic, for the status page's charts:
// every intervalMs it turns the backends' byte and connection counters into rates (per second)
// and keeps the last `keep` points per backend (5 min at the defaults). Kept in the balancer,
// not the page, so a page opened (or reloaded) now still shows the minutes before.
// Owned by the AdminServer; loop thread only; close(done) before destroying (a timer).
// The one thing to get right: a backend's first tick only records its counters (a rate needs
// two), and a backend that left the pool loses its series at the next tick.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

#include "load-balancer/proxy/backend_pool.h"

namespace lb {

class RateHistory {
 public:
  RateHistory(uv_loop_t* loop, const BackendPool& pool, uint64_t intervalMs = 2000,
              size_t keep = 150);
  void start();
  void close(std::function<void()> done);

  // ,"history":{"intervalMs":2000,"backends":{"<id>":[[bytesPerSec,connectionsPerSec],...]}}
  // oldest point first, the last one ending now.
  void appendJson(std::string& out) const;

 private:
  struct Point {
    double bytesPerSec;
    double connectionsPerSec;
  };
  struct Series {
    uint64_t bytes = 0;
    uint64_t connections = 0;
    uint64_t tick = 0;
    std::deque<Point> points;
  };
  static void onTick(uv_timer_t* t) noexcept;
  void tick();

  uv_loop_t* loop_;
  const BackendPool& pool_;
  uint64_t intervalMs_;
  size_t keep_;
  uint64_t ticks_ = 0;
  uv_timer_t timer_;
  std::function<void()> onClosed_;
  std::unordered_map<std::string, Series> series_;
};

}  // namespace lb
