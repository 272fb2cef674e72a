// Api: the node's public HTTP routes (the original's GET API with meshkv's fixes): /set /get
// /rm /is /clear /getKeys /getValues /getAll /healthcheck /status (/settings) and the 404 for
// anything else. Writes are stamped and applied by the Keyspace, then handed to the Cluster
// for replication; w=quorum|all answers once enough nodes applied them (or 504).
// Owned by the Node; registered on its server once. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

#include "common/http/server.h"
#include "database/cluster.h"
#include "database/http/params.h"
#include "database/storage/keyspace.h"

namespace db {

struct NodeInfo {
  std::string hostname;
  Limits limits;
  uint64_t startedAtMs = 0;  // uv_now at start
};

class Api {
 public:
  Api(Keyspace& keyspace, Cluster& cluster, common::http::Server& server, NodeInfo info);
  void registerRoutes();

 private:
  using Request = common::http::Request;
  using Responder = common::http::Responder;

  void set(const Request& req, Responder r);
  void get(const Request& req, Responder r);
  void rm(const Request& req, Responder r);
  void is(const Request& req, Responder r);
  void clear(const Request& req, Responder r);
  void list(const Request& req, Responder r, int kind);
  void healthcheck(const Request& req, Responder r);
  void status(const Request& req, Responder r);
  void finishWrite(const Mutation& m, WriteConcern w, Responder r);

  Keyspace& keyspace_;
  Cluster& cluster_;
  common::http::Server& server_;
  NodeInfo info_;
  std::string scratch_;  // response bodies are built here (no allocation per request)
  KeyParams params_;     // parsed parameters, buffers reused request after request
};

// The one mapping from error codes to HTTP statuses.
int statusForError(std::string_view code);

}  // namespace db
