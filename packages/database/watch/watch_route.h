// db::watch::WatchRoute: GET /watch?c=&prefix=&lastEventId= on the node's public server. Reads
// the request (collection, prefix, Last-Event-ID header or lastEventId=, Accept), opens a watcher
// on the hub and answers with it as a streamed body: text/event-stream, or application/x-ndjson
// when the Accept header asks for it. Errors are JSON before any byte of the stream: 400
// INVALID_ENCODING (a prefix that is not UTF-8), DUPLICATE_PARAM, INVALID_COLLECTION,
// MAXIMUM_COLLECTION_LENGTH_REACHED, INVALID_LAST_EVENT_ID; 503 TOO_MANY_WATCHERS,
// STOPPING. Owned by the Node beside the hub; loop thread only.
// The one thing to get right: the watcher wakes its connection through the Responder (found by
// id), never through a pointer to it, so a wake after the client left does nothing.
#pragma once

#include <string_view>

#include "common/core/result.h"
#include "common/http/server.h"
#include "database/watch/watch_hub.h"

namespace db::watch {

// The request's watch parameters. `lastEventIdHeader` is the Last-Event-ID header ("" if none);
// lastEventId= in the query wins over it (a browser's EventSource cannot set headers).
common::Result<WatchRequest> parseWatchRequest(std::string_view query,
                                               std::string_view lastEventIdHeader,
                                               std::string_view accept);

class WatchRoute {
 public:
  explicit WatchRoute(WatchHub& hub) : hub_(hub) {}
  void registerRoutes(common::http::Server& server);
  // GET /kv/C?watch=1: the stream of /watch?c=C&... (same parameters, formats and errors); a
  // c= in the query is refused (DUPLICATE_PARAM: the path names the collection).
  void watchCollection(const common::http::Request& req, common::http::Responder r,
                       std::string_view collection);

 private:
  // `collection` null: /watch (c= from the query).
  void watch(const common::http::Request& req, common::http::Responder r,
             const std::string_view* collection);

  WatchHub& hub_;
};

}  // namespace db::watch
