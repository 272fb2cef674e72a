// See watch_route.h.
#include "database/watch/watch_route.h"

#include "common/http/json.h"
#include "common/http/url.h"
#include "database/storage/record_rules.h"

namespace db::watch {

common::Result<WatchRequest> parseWatchRequest(std::string_view query,
                                               std::string_view lastEventIdHeader,
                                               std::string_view accept) {
  auto params = common::parseQuery(query);  // INVALID_ENCODING: bad escapes, not UTF-8
  if (!params.ok()) return params.error();
  WatchRequest req;
  bool seenPrefix = false, seenId = false, seenC = false;
  std::string_view idText = lastEventIdHeader;
  for (const auto& p : *params) {
    if (p.name == "prefix") {
      if (seenPrefix) return common::Error{"DUPLICATE_PARAM", "repeated prefix"};
      seenPrefix = true;
      req.prefix = p.value;
    } else if (p.name == "c") {
      if (seenC) return common::Error{"DUPLICATE_PARAM", "repeated c"};
      seenC = true;
      if (auto st = checkCollection(p.value); !st.ok()) return st.error();
      req.collection = p.value;
    } else if (p.name == "lastEventId") {
      if (seenId) return common::Error{"DUPLICATE_PARAM", "repeated lastEventId"};
      seenId = true;
      idText = p.value;
    }
  }
  if (!idText.empty()) {
    auto id = parseEventId(idText);
    if (!id.ok()) return id.error();
    req.lastEventId = std::move(*id);
  }
  if (accept.find("application/x-ndjson") != std::string_view::npos) req.format = Format::kNdjson;
  return req;
}

void WatchRoute::registerRoutes(common::http::Server& server) {
  server.route("/watch", [this](const common::http::Request& req, common::http::Responder r) {
    watch(req, r, nullptr);
  });
}

void WatchRoute::watchCollection(const common::http::Request& req, common::http::Responder r,
                                 std::string_view collection) {
  watch(req, r, &collection);
}

void WatchRoute::watch(const common::http::Request& req, common::http::Responder r,
                       const std::string_view* collection) {
  auto parsed = parseWatchRequest(req.query, req.header("last-event-id"), req.header("accept"));
  if (!parsed.ok()) return r.respond(400, common::json::errorBody(parsed.error().code));
  if (collection != nullptr) {
    // A c= is never empty once parsed (INVALID_COLLECTION), so a non-empty one was in the query.
    if (!parsed->collection.empty())
      return r.respond(400, common::json::errorBody("DUPLICATE_PARAM"));
    parsed->collection = *collection;
  }
  Format format = parsed->format;
  auto watcher = hub_.open(std::move(*parsed), [r] { r.resume(); });
  if (!watcher.ok()) return r.respond(503, common::json::errorBody(watcher.error().code));
  r.stream(200, std::move(*watcher),
           format == Format::kSse ? "text/event-stream" : "application/x-ndjson",
           {{"Cache-Control", "no-cache"}});
}

}  // namespace db::watch
