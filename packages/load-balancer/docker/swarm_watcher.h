// lb::SwarmWatcher: keeps the BackendPool equal to the running tasks of one Swarm service,
// through the Swarm API of a manager (the balancer's DOCKER_API_LOCATION). Swarm emits no task
// events and a manager's container events cover its own host only, so: subscribe to events of
// type service and container, list the service's tasks (GET /tasks) and reconcile; relist every
// pollMs as the baseline (remote hosts), and every burstMs for burstForMs after any event about
// the service or one of its containers (scale, update, a task's container starting, turning
// healthy or being killed). A local container's `kill` drains its task at once, before the
// process even sees SIGTERM; a task whose DesiredState left "running" is drained on the next
// listing. While the manager is unreachable the last backends stay. Keyed by task id.
// When the engine is no manager (or unreachable at start) and mode is auto, it hands over to
// TasksDns (DNS tasks.<service>). Owned by the Service; close(done) first. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "load-balancer/docker/engine_client.h"
#include "load-balancer/docker/event_stream.h"
#include "load-balancer/docker/swarm_tasks.h"
#include "load-balancer/proxy/backend_pool.h"

namespace lb {

class TasksDns;

enum class SwarmMode : uint8_t { kAuto, kApi, kDns };
enum class SwarmState : uint8_t { kConnecting, kWatching, kBackoff, kDns, kClosed };

std::string_view toString(SwarmState s);

struct SwarmOptions {
  std::string apiLocation = "/var/run/docker.sock";
  std::string service;  // the full Swarm service name, e.g. "meshkv_database"
  int port = 0;         // the port on the tasks
  std::string network;  // "" = the task's first non-ingress network
  SwarmMode mode = SwarmMode::kAuto;
  uint64_t pollMs = 1000;      // baseline relisting
  uint64_t burstMs = 100;      // relisting while something is changing
  uint64_t burstForMs = 3000;  // how long "changing" lasts after the last event
  uint64_t minBackoffMs = 100;
  uint64_t maxBackoffMs = 5000;
};

struct SwarmStatus {
  SwarmState state = SwarmState::kConnecting;
  std::string lastError;
  uint64_t lists = 0;
  uint64_t events = 0;
  uint64_t tasks = 0;  // tasks routed or draining
};

class SwarmWatcher {
 public:
  SwarmWatcher(uv_loop_t* loop, BackendPool& pool, SwarmOptions opts);
  ~SwarmWatcher();
  SwarmWatcher(const SwarmWatcher&) = delete;
  SwarmWatcher& operator=(const SwarmWatcher&) = delete;

  void start();
  void close(std::function<void()> done);
  const SwarmStatus& status() const { return status_; }

 private:
  static void onPollTimer(uv_timer_t* t) noexcept;
  static void onTimerClosed(uv_handle_t* h) noexcept;

  void connect();
  void checkManager();
  void useDns(const std::string& why);
  void subscribe();
  void retry(const std::string& why);
  void handleEvent(const ContainerEvent& e);
  void burst();
  void list();
  void listed(common::http::ClientResponse&& r);
  void reconcile(const std::vector<SwarmTask>& tasks);
  void drain(const std::string& taskId);
  void schedule(uint64_t ms);
  void maybeClosed();

  uv_loop_t* loop_;
  BackendPool& pool_;
  SwarmOptions opts_;
  EngineClient engine_;
  std::unique_ptr<TasksDns> dns_;
  uv_timer_t poll_;
  bool timerOpen_ = true;
  int partsClosing_ = 0;
  bool closing_ = false;
  std::function<void()> onClosed_;

  uint64_t generation_ = 0;  // one per subscription: stale stream callbacks are ignored
  uint64_t streamId_ = 0;
  bool streaming_ = false;
  long streamStatus_ = 0;
  EventStream parser_;
  uint64_t backoffMs_;
  bool listing_ = false;
  bool listAgain_ = false;
  uint64_t burstUntilMs_ = 0;
  std::unordered_set<std::string> killed_;  // tasks whose container got a stopping signal
  std::unordered_map<std::string, TaskPhase> phases_;  // last listing, for logs
  SwarmStatus status_;
};

}  // namespace lb
