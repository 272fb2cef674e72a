// Api: the node's public HTTP routes (the original's GET API with meshkv's fixes): /set /get
// /rm /is /clear /getKeys /getValues /getAll /healthcheck /status (/settings) and the 404 for
// anything else. Writes are stamped and applied by the Keyspace, then handed to the Cluster
// for replication; w=quorum|all answers once enough nodes applied them (or 504); w=disk (and
// every write under FSYNC=always) answers once the log holding it is fsynced (or 503).
// Owned by the Node; registered on its server once. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

#include "common/http/server.h"
#include "database/cluster.h"
#include "database/durability.h"
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
  Api(Keyspace& keyspace, Cluster& cluster, Durability& durability, common::http::Server& server,
      NodeInfo info);
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
  struct Concern {
    WriteConcern w = WriteConcern::kLocal;
    bool disk = false;  // w=disk: the log holding the write is fsynced
  };
  // The write concern of a request, or the error that refuses the write before it is applied
  // (INVALID_WRITE_CONCERN, PERSISTENCE_DISABLED, DISK_UNAVAILABLE).
  common::Result<Concern> admitWrite(std::string_view w);
  void finishWrite(const Mutation& m, Concern c, Responder r);

  Keyspace& keyspace_;
  Cluster& cluster_;
  Durability& durability_;
  common::http::Server& server_;
  NodeInfo info_;
  std::string scratch_;  // response bodies are built here (no allocation per request)
  KeyParams params_;     // parsed parameters, buffers reused request after request
};

// The one mapping from error codes to HTTP statuses.
int statusForError(std::string_view code);

}  // namespace db
