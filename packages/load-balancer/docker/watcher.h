// lb::DockerWatcher: keeps the BackendPool equal to the ready containers of one compose service,
// following the Docker Engine live. The recipe (docker-gen's): negotiate the version (/_ping),
// subscribe to /events filtered by type and the group's labels FIRST, then list and inspect,
// and reconcile; apply each event by inspecting only the container it names. On a broken
// stream: reconnect with back-off and since=<last event time>, de-duplicating the replay; relist
// every resyncIntervalMs as a safety net; while Docker is unreachable keep the last backends.
// Container states: ready on start (once healthy when it has a healthcheck), draining on kill,
// removed on die/stop/destroy/pause/oom/unhealthy, back on unpause/healthy. Keyed by id.
// Owned by the Service; close(done) before destroying. Loop thread only; never blocks.
#pragma once

#include <uv.h>

#include <rapidjson/document.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "load-balancer/docker/engine_client.h"
#include "load-balancer/docker/event_stream.h"
#include "load-balancer/proxy/backend_pool.h"

namespace lb {

struct WatcherOptions {
  std::string apiLocation = "/var/run/docker.sock";
  std::string groupName;
  int groupPort = 0;
  std::string groupProject;  // "" = own project in a container, else any
  std::string groupNetwork;  // "" = shared with the balancer, else the first by name
  bool includeOneOff = true;
  uint64_t resyncIntervalMs = 30000;
  uint64_t minBackoffMs = 100;
  uint64_t maxBackoffMs = 5000;
  bool detectSelf = true;  // look for our own container (/.dockerenv + HOSTNAME)
};

struct WatcherStatus {
  std::string state = "starting";  // connecting, syncing, watching, backoff, closed
  std::string apiVersion;
  std::string project;  // effective project filter ("" = any)
  std::string lastError;
  std::string lastEventAction;
  std::string lastEventId;
  std::string lastEventName;
  int64_t lastEventTimeNano = 0;
  uint64_t events = 0;
  uint64_t duplicates = 0;
  uint64_t badEvents = 0;
  uint64_t reconnects = 0;
  uint64_t syncs = 0;
  uint64_t inspects = 0;    // inspect answers handled (applied, or found stale or failed)
  uint64_t containers = 0;  // known containers of the group
};

// Our own container id when running in Docker (from /proc/self/mountinfo), else "".
std::string ownContainerId(const std::string& mountinfoPath = "/proc/self/mountinfo");

class DockerWatcher {
 public:
  DockerWatcher(uv_loop_t* loop, BackendPool& pool, WatcherOptions opts);
  ~DockerWatcher();
  DockerWatcher(const DockerWatcher&) = delete;
  DockerWatcher& operator=(const DockerWatcher&) = delete;

  void start();
  void close(std::function<void()> done);
  const WatcherStatus& status() const { return status_; }

 private:
  struct Container {
    std::string name;
    std::string ip;
    bool running = false;
    bool paused = false;
    bool killed = false;
    bool hasHealth = false;
    std::string health;
    uint64_t seq = 0;  // eventSeq_ of the last event or inspect that set this record
    bool warnedNoAddress = false;
  };

  static void onRetryTimer(uv_timer_t* t) noexcept;
  static void onResyncTimer(uv_timer_t* t) noexcept;
  static void onTimerClosed(uv_handle_t* h) noexcept;

  void connect();
  void detectSelf(std::function<void()> next);
  void subscribe();
  void streamHeaders(long status);
  void streamData(std::string_view data);
  void streamDone(const std::string& error);
  void restartStream(const std::string& why);
  void scheduleReconnect();
  void resync();
  void inspect(const std::string& id, uint64_t seqAtStart, std::function<void()> after);
  void applyInspect(const std::string& id, const rapidjson::Value& doc);
  void handleEvent(ContainerEvent&& e);
  void publish(const std::string& id);
  void forget(const std::string& id);
  bool matchesGroup(const std::unordered_map<std::string, std::string>& labels) const;
  std::string chooseAddress(const std::string& id, Container& c, const rapidjson::Value& networks,
                            const std::string& project);
  std::string filtersJson(bool forList) const;
  void maybeClosed();

  uv_loop_t* loop_;
  BackendPool& pool_;
  WatcherOptions opts_;
  EngineClient engine_;
  uv_timer_t retry_;
  uv_timer_t resyncTimer_;
  int timersOpen_ = 2;
  bool clientClosed_ = false;
  bool closing_ = false;
  std::function<void()> onClosed_;

  bool selfChecked_ = false;
  std::string project_;                // effective project filter
  std::set<std::string> ownNetworks_;  // when the balancer runs in a container
  uint64_t backoffMs_;
  uint64_t generation_ = 0;  // one per subscription; stale stream callbacks are ignored
  uint64_t streamId_ = 0;
  bool streaming_ = false;
  long streamStatus_ = 0;
  uint64_t streamStartMs_ = 0;
  std::string streamErrorBody_;
  EventStream parser_;
  int64_t lastTimeNano_ = 0;
  std::unordered_set<std::string> seen_;  // de-duplication of replayed events
  std::deque<std::string> seenOrder_;
  std::unordered_set<std::string> unknownActions_;
  uint64_t eventSeq_ = 0;
  bool syncing_ = false;
  bool syncAgain_ = false;
  std::unordered_map<std::string, Container> containers_;
  WatcherStatus status_;
};

}  // namespace lb
