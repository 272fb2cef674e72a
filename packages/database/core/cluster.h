// db::Cluster: what the node needs from the rest of the cluster besides replication (which
// reaches the mesh through the write log: write_log.h): its routes, its start and leave, and
// whether this node is ready. Its one implementation is the mesh (database/mesh/MeshCluster),
// which every node runs, also when it is the only node; the routes see only this interface.
// Event loop thread only. The one thing to get right: ready() stays false until a joining node
// caught up, so /healthcheck keeps clients away from a node that would answer 404s.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/http/server.h"
#include "common/metrics/metrics_writer.h"

namespace db {

class Cluster {
 public:
  virtual ~Cluster() = default;

  // Registers internal routes (/_mesh/..., /ping) on the node's server. Called once at start.
  virtual void registerRoutes(common::http::Server& server) = 0;

  // Starts joining (or, without a join URL, serving at once) and probing. Called once the server
  // listens.
  virtual void start() = 0;

  // False while a joining node catches up: /healthcheck answers 503 until it is true.
  virtual bool ready() const = 0;

  // Appends the cluster part of /status as JSON members (each starting with a comma), e.g.
  // ,"ready":true,"members":[...]
  virtual void appendStatus(std::string& json) const = 0;

  // Adds the cluster's families to the node's /metrics (replication lag per peer, catch-up,
  // anti-entropy), named meshkv_node_....
  virtual void appendMetrics(common::metrics::MetricsWriter& w) const = 0;

  // Graceful leave (SIGTERM/SIGINT): announce it, flush what is pending, then call done.
  virtual void leave(std::function<void()> done) = 0;
};

}  // namespace db
