// lb::Listener: the proxy's front door. It accepts client connections on SERVICE_PORT, creates
// one Session per client (which picks a backend through the Balancer and relays bytes), and
// runs the single sweep timer that enforces connect and idle timeouts for every session (no
// timer per connection). At MAX_CONNECTIONS it stops accepting (the kernel queues new clients)
// and resumes when a session ends.
// The Listener owns its sessions; drain() stops accepting, lets open sessions finish until a
// deadline, aborts the rest, closes its handles and then calls done. Destroy it only after that.
// Loop thread only. The read buffer is shared by all sessions: reads are consumed synchronously.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "load-balancer/proxy/backend_pool.h"
#include "load-balancer/proxy/balancer.h"

namespace lb {

class Session;

struct ListenerOptions {
  uint64_t connectTimeoutMs = 1000;
  uint64_t idleTimeoutMs = 600000;  // no byte either way for this long closes a connection
  size_t maxConnections = 10000;
  size_t bufferSize = 64 * 1024;  // read size, and the most a direction holds in user space
  uint64_t sweepIntervalMs = 0;   // 0: derived from the timeouts (10..100 ms)
};

struct ListenerStats {
  uint64_t accepted = 0;
  uint64_t open = 0;
  uint64_t noBackend = 0;       // clients closed because no backend answered
  uint64_t connectRetries = 0;  // connects moved to another backend
  uint64_t idleTimeouts = 0;
  uint64_t bytesIn = 0;       // client -> backend
  uint64_t bytesOut = 0;      // backend -> client
  uint64_t buffersInUse = 0;  // pending-output buffers held by sessions (bounded: 2 each)
  bool acceptPaused = false;
};

class Listener {
 public:
  Listener(uv_loop_t* loop, BackendPool& pool, Balancer& balancer, ListenerOptions opts);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds (SO_REUSEADDR) and listens. 0 or a negative libuv error. Port 0 picks a free port.
  int listen(const std::string& host, int port);
  int port() const { return port_; }

  // Stops accepting; sessions still open after deadlineMs are aborted; then done().
  void drain(uint64_t deadlineMs, std::function<void()> done);

  const ListenerStats& stats() const { return stats_; }
  const ListenerOptions& options() const { return opts_; }
  uv_loop_t* loop() const { return loop_; }
  BackendPool& pool() { return pool_; }
  Balancer& balancer() { return balancer_; }

 private:
  friend class Session;

  static void onConnection(uv_stream_t* server, int status) noexcept;
  static void onSweep(uv_timer_t* t) noexcept;
  static void onDrainDeadline(uv_timer_t* t) noexcept;
  static void onHandleClosed(uv_handle_t* h) noexcept;

  void acceptOne();
  void sweep();
  void sessionClosed(Session* s);  // from the session's last close callback
  void maybeFinishDrain();
  char* takeBuffer();
  void giveBuffer(char* b);
  bool rateLimitedLog();  // true at most once a second (for per-connection warnings)

  uv_loop_t* loop_;
  BackendPool& pool_;
  Balancer& balancer_;
  ListenerOptions opts_;
  uv_tcp_t server_;
  uv_timer_t sweep_;
  uv_timer_t deadline_;
  int handlesOpen_ = 0;
  bool listening_ = false;
  bool pendingAccept_ = false;  // a client waits in the kernel queue while we are at max
  bool draining_ = false;
  int port_ = 0;
  Session* head_ = nullptr;  // intrusive list of live sessions
  std::vector<char*> freeBuffers_;
  std::function<void()> onDrained_;
  ListenerStats stats_;
  std::vector<char> readBuffer_;
  uint64_t lastWarnMs_ = 0;
};

}  // namespace lb
