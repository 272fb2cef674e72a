// lb::Service: the whole balancer wired together, so main.cc stays thin and tests can run the
// real thing in-process: the BackendPool, the Balancer, the Listener on SERVICE_PORT, and
// either the static BACKENDS with active health checks, the Docker watcher (compose) or the
// Swarm watcher (SWARM_MODE), each with the autoscaler when AUTOSCALE_MAX is set, plus the admin
// endpoint when ADMIN_PORT is set. SIGTERM/SIGINT (or shutdown()) stops accepting, lets open
// connections finish until SHUTDOWN_TIMEOUT_MS, closes every handle; the loop then ends.
// Loop thread only. Destroy it only after the loop has run out (all handles closed).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "load-balancer/config.h"
#include "load-balancer/proxy/backend_pool.h"
#include "load-balancer/proxy/balancer.h"
#include "load-balancer/proxy/health_checker.h"
#include "load-balancer/proxy/listener.h"

namespace lb {

class DockerWatcher;
class SwarmWatcher;
class AdminServer;
class Autoscaler;

class Service {
 public:
  Service(uv_loop_t* loop, Config config);
  ~Service();

  // Listens and starts discovery. 0, or a negative libuv error (already logged).
  int start(bool handleSignals = true);
  // Graceful stop; `done` (optional) runs once everything is closed.
  void shutdown(std::function<void()> done = nullptr);

  int port() const { return listener_->port(); }
  int adminPort() const;
  BackendPool& pool() { return pool_; }
  Listener& listener() { return *listener_; }
  DockerWatcher* watcher() { return watcher_.get(); }

 private:
  static void onSignal(uv_signal_t* s, int signum) noexcept;
  void partClosed();

  uv_loop_t* loop_;
  Config config_;
  BackendPool pool_;
  std::unique_ptr<Balancer> balancer_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<HealthChecker> checker_;
  std::unique_ptr<DockerWatcher> watcher_;
  std::unique_ptr<SwarmWatcher> swarm_;
  std::unique_ptr<Autoscaler> autoscaler_;  // Docker or Swarm mode with AUTOSCALE_MAX
  std::unique_ptr<AdminServer> admin_;
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  bool signals_ = false;
  bool stopping_ = false;
  int partsOpen_ = 0;
  std::function<void()> onStopped_;
};

}  // namespace lb
