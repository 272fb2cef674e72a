// Api: the node's public HTTP routes (the original's GET API with meshkv's fixes): /set /get
// /rm /is /clear /getKeys /getValues /getAll /healthcheck /status (/settings) /collections, the
// REST interface under /kv (rest.h) and the 404 for anything else; every data route takes c= (a
// collection, docs/collections.md). A write runs one way: the Keyspace stamps and applies it, the
// WriteLog appends it (the disk and the peers take it from there) and the answer waits on its
// ticket: w=quorum|all until enough nodes applied it (or 504), w=disk (and every write under
// FSYNC=always) until the log holding it is fsynced (or 503). The routes never see the mesh. Owned
// by the Node; registered on its server once. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "common/http/server.h"
#include "database/core/cluster.h"
#include "database/core/write_log.h"
#include "database/http/list_stream.h"
#include "database/http/params.h"
#include "database/http/rest.h"
#include "database/storage/keyspace.h"

namespace db {

struct NodeInfo {
  std::string hostname;
  Limits limits;
  uint64_t startedAtMs = 0;  // uv_now at start
  // More ,"name":{...} members for /status from parts the routes do not know (the watch hub).
  std::function<void(std::string&)> appendStatus = nullptr;
  // GET /kv/C?watch=1 (rest.h); empty: the node has no change streams.
  WatchHandler watchCollection = nullptr;
};

class Api {
 public:
  Api(Keyspace& keyspace, WriteLog& log, const Cluster& cluster, common::http::Server& server,
      NodeInfo info);
  void registerRoutes();

  // What the REST interface (rest.h) shares with the GET API, so both answer and write alike.
  using Request = common::http::Request;
  using Responder = common::http::Responder;
  // The write level of a request (w=), or the error that refuses the write before it is applied
  // (INVALID_WRITE_CONCERN, PERSISTENCE_DISABLED, DISK_UNAVAILABLE).
  common::Result<WriteLevel> admitWrite(std::string_view w);
  // Appends the applied write to the log and answers once it went as far as `level` asks:
  // `okStatus` with `okBody` ({"success":true} when empty), or the write's error.
  void finishWrite(const Mutation& m, WriteLevel level, Responder r, int okStatus = 200,
                   std::string okBody = {});
  // [{"name":"","records":N,"tombstones":N,"bytes":N},...]: the default collection first.
  void appendCollections(std::string& s) const;
  // A list route's answer: streamed without a limit, else one page and its X-Cursor.
  void answerList(ListKind kind, const ListParams& p, Responder r);

 private:
  void set(const Request& req, Responder r);
  void get(const Request& req, Responder r);
  void rm(const Request& req, Responder r);
  void is(const Request& req, Responder r);
  void ttl(const Request& req, Responder r);      // seconds left (docs/ttl.md)
  void persist(const Request& req, Responder r);  // removes an expiry (a write)
  void clear(const Request& req, Responder r);
  void list(const Request& req, Responder r, int kind);
  void healthcheck(const Request& req, Responder r);
  void status(const Request& req, Responder r);
  void collections(const Request& req, Responder r);

  Keyspace& keyspace_;
  WriteLog& log_;
  const Cluster& cluster_;
  common::http::Server& server_;
  NodeInfo info_;
  std::string scratch_;  // response bodies are built here (no allocation per request)
  KeyParams params_;     // parsed parameters, buffers reused request after request
  Rest rest_;            // the /kv routes
};

// The one mapping from error codes to HTTP statuses.
int statusForError(std::string_view code);

}  // namespace db
