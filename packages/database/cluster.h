// db::Cluster: what the node's API routes need from the rest of the cluster. Its one
// implementation is the mesh (database/mesh/MeshCluster), which every node runs, also when it is
// the only node; the routes see only this interface. Event loop thread only.
// The one thing to get right: onLocalWrite() is called after the mutation was applied to the
// local keyspace, so the mesh never has to re-apply it; awaitReplication() counts this node.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/http/server.h"
#include "database/storage/keyspace.h"

namespace db {

enum class WriteConcern { kLocal, kQuorum, kAll };

class Cluster {
 public:
  virtual ~Cluster() = default;

  // Registers internal routes (/_mesh/..., /ping) on the node's server. Called once at start.
  virtual void registerRoutes(common::http::Server& server) = 0;

  // Starts joining (or, without a join URL, serving at once) and probing. Called once the server
  // listens.
  virtual void start() = 0;

  // A client write (stamped and applied locally) that must reach every node.
  virtual void onLocalWrite(const Mutation& m) = 0;

  // For w=quorum / w=all: calls done(ok, acked) once `w` nodes (this one included) applied `m`,
  // or with ok=false after the replication timeout. done runs on the loop, exactly once.
  virtual void awaitReplication(const Mutation& m, WriteConcern w,
                                std::function<void(bool ok, int acked)> done) = 0;

  // False while a joining node catches up: /healthcheck answers 503 until it is true.
  virtual bool ready() const = 0;

  // Appends the cluster part of /status as JSON members (each starting with a comma), e.g.
  // ,"ready":true,"members":[...]
  virtual void appendStatus(std::string& json) const = 0;

  // Graceful leave (SIGTERM/SIGINT): announce it, flush what is pending, then call done.
  virtual void leave(std::function<void()> done) = 0;
};

}  // namespace db
