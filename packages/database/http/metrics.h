// db::NodeMetrics: the node's GET /metrics in the Prometheus text format, with the balancer's
// conventions (common::metrics::MetricsWriter): requests by route and status, a latency
// histogram per route, request and response bytes, records and store bytes, connections, and
// the cluster's families (Cluster::appendMetrics: replication lag per peer, catch-up,
// anti-entropy). It counts requests as a ServerObserver of the node's server.
// Owned by the Node, registered once; loop thread only; outlives nothing it observes.
// The one thing to get right: the route label is bounded. A path that is not a known route
// counts as "other" (and every REST path as "/kv"), so a client sending random paths (or keys in
// REST paths) cannot grow the answer without limit; and a request whose connection closed
// before the answer never completes, so the table of requests in flight is capped (oldest
// dropped).
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <map>
#include <string_view>

#include "common/http/server.h"
#include "common/metrics/metrics_writer.h"
#include "database/core/cluster.h"
#include "database/storage/keyspace.h"

namespace db {

class NodeMetrics : public common::http::ServerObserver {
 public:
  NodeMetrics(common::http::Server& server, const Keyspace& keyspace, const Cluster& cluster);
  // Adds GET /metrics to the server and observes its requests.
  void registerRoute();
  std::string text() const;

  void onRequestStart(const common::http::Request& req) override;
  void onRequestComplete(uint64_t requestId, int status) override;
  void onRequestEnd(uint64_t requestId, int status, size_t bytes) override;

  // The route label of a path: itself for a known route, "/kv" for /kv and anything under it,
  // else "other".
  static std::string_view routeOf(std::string_view path);

 private:
  static constexpr size_t kRoutes = 28;  // the known routes, "other" last (metrics.cc)
  static constexpr size_t kMaxInFlight = 4096;
  struct Pending {
    uint8_t route;
    uint64_t startNs;
  };
  struct RouteStats {
    std::map<int, uint64_t> byStatus;
    common::metrics::Histogram latency = common::metrics::Histogram::latency();
  };

  common::http::Server& server_;
  const Keyspace& keyspace_;
  const Cluster& cluster_;
  std::map<uint64_t, Pending> inFlight_;  // by request id (increasing: begin() is the oldest)
  std::array<RouteStats, kRoutes> routes_;
  uint64_t requestBytes_ = 0;
  uint64_t responseBytes_ = 0;
  uint64_t startedMs_ = 0;
};

}  // namespace db
