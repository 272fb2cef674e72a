// lb::HealthChecker: active TCP checks for static BACKENDS, like HAProxy's `inter 2s rise 2
// fall 3`. Every interval it opens one TCP connection to each backend in the pool; a connect
// that succeeds before the next tick is a success, anything else a failure. `fall` failures in
// a row take a backend out (Backend::checkUp = false), `rise` successes bring it back.
// Owned by main; close(done) cancels running checks and closes its handles. Loop thread only.
// Not used in Docker mode: there the engine's own healthcheck is the source of truth.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

#include "load-balancer/proxy/backend_pool.h"

namespace lb {

struct HealthCheckOptions {
  uint64_t intervalMs = 2000;
  uint64_t timeoutMs = 1000;  // a check not connected by then failed
  uint32_t rise = 2;
  uint32_t fall = 3;
};

class HealthChecker {
 public:
  HealthChecker(uv_loop_t* loop, BackendPool& pool, HealthCheckOptions opts);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();
  void close(std::function<void()> done);
  uint64_t checksRun() const { return checksRun_; }

 private:
  struct Check;

  static void onTick(uv_timer_t* t) noexcept;
  static void onConnect(uv_connect_t* req, int status) noexcept;
  static void onCheckClosed(uv_handle_t* h) noexcept;
  static void onTimerClosed(uv_handle_t* h) noexcept;

  void tick();
  void finishCheck(Check* c, bool ok);
  void record(Backend& b, bool ok);
  void maybeDone();

  uv_loop_t* loop_;
  BackendPool& pool_;
  HealthCheckOptions opts_;
  uv_timer_t timer_;
  bool closing_ = false;
  bool timerClosed_ = false;
  size_t checksOpen_ = 0;
  uint64_t checksRun_ = 0;
  std::unordered_map<const Backend*, uint64_t> lastStart_;  // when its last check started
  Check* running_ = nullptr;                                // intrusive list of checks in flight
  std::function<void()> onClosed_;
};

}  // namespace lb
