// Rest: the REST interface under /kv, beside the GET API (README.md, "REST interface"):
//   GET /kv                      the collections with counts (as /collections)
//   GET /kv/C[?prefix&limit&cursor]  C's records, streamed or paged like /getAll
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

#include <string>

#include "common/http/server.h"
#include "database/http/rest_path.h"
#include "database/storage/keyspace.h"
#include "database/storage/record_rules.h"

namespace db {

class Api;

class Rest {
 public:
  Rest(Api& api, Keyspace& keyspace, const Limits& limits)
      : api_(api), keyspace_(keyspace), limits_(limits) {}
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
  RestPath path_;        // the decoded path, buffers reused request after request
  std::string scratch_;  // response bodies
};

}  // namespace db
