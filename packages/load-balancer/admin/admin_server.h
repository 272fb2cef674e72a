// lb::AdminServer: the balancer's ADMIN_PORT, on common::http::Server. GET /status answers JSON
// (every backend: id, name, address, state, open and total connections, failures, passive and
// active health; the listener's counters; the Docker watcher's state and last event) and
// GET /metrics the same figures in the Prometheus text format (built at scrape time from live
// state with common::metrics::MetricsWriter, so nothing is kept in sync by hand). GET / is the
// status page (status_page.html, embedded at build time), which polls /status and
// /node-status (NodeStatusProxy: one node's own /status, for the mesh's members); /status
// carries the last 5 minutes of each backend's rates (RateHistory) for its charts.
// Owned by the Service; reads the pool, listener and watcher it is given (they outlive it).
// close(done) before destroying. Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "common/http/server.h"
#include "load-balancer/admin/node_status.h"
#include "load-balancer/admin/rate_history.h"
#include "load-balancer/proxy/backend_pool.h"
#include "load-balancer/proxy/listener.h"

namespace lb {

class DockerWatcher;
class Autoscaler;

class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, BackendPool& pool, Listener& listener, const DockerWatcher* watcher);
  int listen(const std::string& host, int port);
  int port() const { return server_.port(); }
  void setAutoscaler(const Autoscaler* a) { autoscaler_ = a; }  // null: off
  void close(std::function<void()> done);

  std::string statusJson() const;
  std::string metricsText() const;

 private:
  uv_loop_t* loop_;
  BackendPool& pool_;
  Listener& listener_;
  const DockerWatcher* watcher_;
  const Autoscaler* autoscaler_ = nullptr;
  common::http::Server server_;
  NodeStatusProxy nodeStatus_;
  RateHistory history_;  // the page's charts
};

}  // namespace lb
