// lb::TasksDns: Swarm discovery without the Swarm API, for a balancer on a worker (or without
// the Docker socket): Docker's DNS answers `tasks.<service>` with the overlay address of every
// task that is running (healthy, when it has a healthcheck), and drops a task's address when
// Swarm starts to stop it. Resolved every intervalMs (uv_getaddrinfo, off the loop thread);
// each address is a backend ("tasks.<service>/<ip>"); an address no longer listed is removed
// (its open connections finish). A failed lookup keeps the last backends; "no such name" means
// no task. Slower than the API (one lookup per interval) and blind to health on its own.
// Owned by the SwarmWatcher; close(done) waits for a lookup in flight. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "load-balancer/proxy/backend_pool.h"

namespace lb {

struct TasksDnsOptions {
  std::string name;  // "tasks.<service>"
  int port = 0;
  uint64_t intervalMs = 500;
};

class TasksDns {
 public:
  TasksDns(uv_loop_t* loop, BackendPool& pool, TasksDnsOptions opts);
  ~TasksDns();
  TasksDns(const TasksDns&) = delete;
  TasksDns& operator=(const TasksDns&) = delete;

  void start();
  void close(std::function<void()> done);
  uint64_t lookups() const { return lookups_; }

 private:
  static void onTimer(uv_timer_t* t) noexcept;
  static void onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept;
  static void onTimerClosed(uv_handle_t* h) noexcept;
  void resolve();
  void apply(int status, addrinfo* res);
  void maybeClosed();

  uv_loop_t* loop_;
  BackendPool& pool_;
  TasksDnsOptions opts_;
  uv_timer_t timer_;
  uv_getaddrinfo_t req_;
  bool resolving_ = false;
  bool timerOpen_ = true;
  bool closing_ = false;
  std::function<void()> onClosed_;
  std::string lastError_;
  uint64_t lookups_ = 0;
};

}  // namespace lb
