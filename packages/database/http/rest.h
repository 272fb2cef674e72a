// Rest: the REST interface under /kv, beside the GET API (README.md, "REST interface"):
//   GET /kv                      the collections with counts (as /collections)
//   GET /kv/C[?prefix&limit&cursor]  C's records, streamed or paged like /getAll
//   GET /kv/C?watch=1[&prefix]   C's change stream, as /watch?c=C (the Node's WatchHandler)
//   GET /kv/C/K                  {"key":K,"value":V} or 404
//   PUT /kv/C/K (body = value), POST /kv/C/K/V   201 created or 200 replaced, {"key":K,"value":V}
//   DELETE /kv/C/K               200 {"key":K} or 404
//   DELETE /kv/C                 clears C (cluster-wide, like /clear?c=C)
// HEAD wherever GET is; any other method gets 405 with Allow; w= on every write. The collection
// "_" is the default one. The one thing to get right: nothing here is a second copy of the GET
// API: paths go through rest_path.h (the record rules), queries through params.h, writes through
// Api::admitWrite / finishWrite (keyspace -> write log -> await), lists through Api::answerList.
// Owned by the Api; loop thread only.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/core/result.h"
#include "common/http/server.h"
#include "database/http/rest_path.h"
#include "database/storage/keyspace.h"
#include "database/storage/record_rules.h"

namespace db {

class Api;

// Answers GET /kv/C?watch=1 with C's change stream. The routes cannot see the watch library (a
// sibling), so the Node passes its /watch route's handler in (NodeInfo::watchCollection).
using WatchHandler = std::function<void(const common::http::Request& req, common::http::Responder r,
                                        std::string_view collection)>;

// watch= of GET /kv/C: "1" true, "0" or absent false; DUPLICATE_PARAM, INVALID_WATCH otherwise.
common::Result<bool> parseWatchFlag(std::string_view query);

class Rest {
 public:
  // `watch` may be empty (no change streams: watch=1 answers 503 WATCH_UNAVAILABLE).
  Rest(Api& api, Keyspace& keyspace, const Limits& limits, const WatchHandler& watch)
      : api_(api), keyspace_(keyspace), limits_(limits), watch_(watch) {}
  // /kv and everything under it; a body is limited to the longest value in bytes.
  void registerRoutes(common::http::Server& server);

 private:
  using Request = common::http::Request;
  using Responder = common::http::Responder;

  void handle(const Request& req, Responder r);
  void root(const Request& req, Responder r, std::string_view method);
  void collection(const Request& req, Responder r, std::string_view method);
  void key(const Request& req, Responder r, std::string_view method);
  void keyValue(const Request& req, Responder r, std::string_view method);
  // Stores path_.key = value in path_.collection: 201 when the key had no live record here.
  void put(const Request& req, Responder r, std::string_view value);
  // The w= of a write; refuses a c= (the path names the collection).
  common::Result<std::string> writeConcern(std::string_view query);

  Api& api_;
  Keyspace& keyspace_;
  const Limits& limits_;
  const WatchHandler& watch_;
  RestPath path_;        // the decoded path, buffers reused request after request
  std::string scratch_;  // response bodies
};

}  // namespace db
