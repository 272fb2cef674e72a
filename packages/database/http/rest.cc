// See rest.h.
#include "database/http/rest.h"

#include <algorithm>
#include <optional>

#include "common/http/json.h"
#include "common/http/url.h"
#include "database/http/api.h"
#include "database/http/params.h"

namespace db {
namespace {

namespace json = common::json;
using Shape = RestPath::Shape;

void respondError(common::http::Responder& r, const common::Error& e) {
  r.respond(statusForError(e.code), json::errorBody(e.code));
}

void notAllowed(common::http::Responder& r, std::string_view allow) {
  r.respond(405, json::errorBody("METHOD_NOT_ALLOWED"), "application/json",
            {{"Allow", std::string(allow)}});
}

void appendRecord(std::string& out, std::string_view key, const std::string_view* value) {
  out.append("{\"key\":");
  json::appendString(out, key);
  if (value != nullptr) {
    out.append(",\"value\":");
    json::appendString(out, *value);
  }
  out.push_back('}');
}

common::Error collectionInPath() {
  return common::Error{"DUPLICATE_PARAM", "the path names the collection: no c="};
}

}  // namespace

common::Result<bool> parseWatchFlag(std::string_view query) {
  auto params = common::parseQuery(query);
  if (!params.ok()) return params.error();
  std::optional<bool> watch;
  for (const auto& p : *params) {
    if (p.name != "watch") continue;
    if (watch) return common::Error{"DUPLICATE_PARAM", "repeated watch"};
    if (p.value != "1" && p.value != "0") {
      return common::Error{"INVALID_WATCH", "watch must be 1 or 0"};
    }
    watch = p.value == "1";
  }
  return watch.value_or(false);
}

void Rest::registerRoutes(common::http::Server& server) {
  // A value is at most 4 bytes per code point: a longer body cannot be a valid value, and is
  // refused (413) from its head, before it is read. Within it, code points are counted (413 too).
  size_t maxBody = std::max<size_t>(4 * limits_.maxValueLength, 1);
  server.routeTree(
      std::string(kRestRoot), [this](const Request& req, Responder r) { handle(req, r); },
      common::http::RouteOptions{.maxBodyBytes = maxBody});
}

void Rest::handle(const Request& req, Responder r) {
  if (auto st = decodeRestPath(req.path, limits_, path_); !st.ok()) {
    return respondError(r, st.error());
  }
  std::string_view method = req.head ? std::string_view("GET") : req.method;
  switch (path_.shape) {
    case Shape::kRoot:
      return root(req, r, method);
    case Shape::kCollection:
      return collection(req, r, method);
    case Shape::kKey:
      return key(req, r, method);
    case Shape::kKeyValue:
      return keyValue(req, r, method);
  }
}

void Rest::root(const Request&, Responder r, std::string_view method) {
  if (method != "GET") return notAllowed(r, "GET, HEAD");
  scratch_.clear();
  scratch_.append("{\"collections\":");
  api_.appendCollections(scratch_);
  scratch_.push_back('}');
  r.respond(200, scratch_);
}

void Rest::collection(const Request& req, Responder r, std::string_view method) {
  if (method == "GET") {
    auto watch = parseWatchFlag(req.query);
    if (!watch.ok()) return respondError(r, watch.error());
    if (*watch) {
      if (!watch_) return r.respond(503, json::errorBody("WATCH_UNAVAILABLE"));
      return watch_(req, r, path_.collection);
    }
    auto p = parseListParams(req.query);
    if (!p.ok()) return respondError(r, p.error());
    if (!p->collection.empty()) return respondError(r, collectionInPath());
    p->collection = path_.collection;
    return api_.answerList(kListAll, *p, r);
  }
  if (method == "DELETE") {
    auto w = writeConcern(req.query);
    if (!w.ok()) return respondError(r, w.error());
    auto level = api_.admitWrite(*w);
    if (!level.ok()) return respondError(r, level.error());
    auto m = keyspace_.clear(path_.collection);
    if (!m.ok()) return respondError(r, m.error());
    return api_.finishWrite(*m, *level, r);
  }
  notAllowed(r, "GET, HEAD, DELETE");
}

void Rest::key(const Request& req, Responder r, std::string_view method) {
  if (method == "GET") {
    auto value = keyspace_.get(path_.key, path_.collection);
    if (!value) return respondError(r, {"MISSING_RECORD", ""});
    scratch_.clear();
    appendRecord(scratch_, path_.key, &*value);
    return r.respond(200, scratch_);
  }
  if (method == "PUT") {
    // The body's bytes are the value, whatever its Content-Type; over the limit is a 413, as a
    // body over the byte bound is (from the server, before it is read).
    if (auto st = checkValue(req.body, limits_); !st.ok()) {
      const std::string& code = st.error().code;
      int status = code == "MAXIMUM_VALUE_LENGTH_REACHED" ? 413 : statusForError(code);
      return r.respond(status, json::errorBody(code));
    }
    return put(req, r, req.body);
  }
  if (method == "DELETE") {
    auto w = writeConcern(req.query);
    if (!w.ok()) return respondError(r, w.error());
    auto level = api_.admitWrite(*w);
    if (!level.ok()) return respondError(r, level.error());
    auto m = keyspace_.remove(path_.key, path_.collection);
    if (!m.ok()) return respondError(r, m.error());  // MISSING_RECORD: 404
    std::string body;
    appendRecord(body, path_.key, nullptr);
    return api_.finishWrite(*m, *level, r, 200, std::move(body));
  }
  notAllowed(r, "GET, HEAD, PUT, DELETE");
}

void Rest::keyValue(const Request& req, Responder r, std::string_view method) {
  if (method != "POST") return notAllowed(r, "POST");
  put(req, r, path_.value);
}

void Rest::put(const Request& req, Responder r, std::string_view value) {
  auto w = writeConcern(req.query);
  if (!w.ok()) return respondError(r, w.error());
  auto ttlMs = parseTtlParam(req.query);  // ?ttl=SECONDS (docs/ttl.md)
  if (!ttlMs.ok()) return respondError(r, ttlMs.error());
  auto level = api_.admitWrite(*w);
  if (!level.ok()) return respondError(r, level.error());
  // One hash lookup more than /set: whether this node had a live record for the key. (A write
  // racing on another node is not seen: "created" is this node's view, as any read is.)
  bool existed = keyspace_.contains(path_.key, path_.collection);
  std::string body;
  appendRecord(body, path_.key, &value);  // before the write: `value` may be the request's body
  auto m = keyspace_.set(path_.key, value, path_.collection, *ttlMs);
  if (!m.ok()) return respondError(r, m.error());
  api_.finishWrite(*m, *level, r, existed ? 200 : 201, std::move(body));
}

common::Result<std::string> Rest::writeConcern(std::string_view query) {
  auto p = parseClearParams(query);  // c= and w=, with the GET API's encoding and duplicate rules
  if (!p.ok()) return p.error();
  if (!p->collection.empty()) return collectionInPath();
  return std::move(p->w);
}

}  // namespace db
