// See api.h. Bodies are built in one reused buffer and handed to the server as views; the
// server copies them into the connection's output, so the hot path allocates nothing.
#include "database/http/api.h"

#include <unistd.h>

#include <cstdio>
#include <memory>

#include "common/http/json.h"
#include "common/http/response.h"
#include "common/http/url.h"
#include "database/http/list_stream.h"

namespace db {
namespace {

constexpr std::string_view kSuccess = "{\"success\":true}";
namespace json = common::json;

uint64_t residentBytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

std::string replicationTimeoutBody(int acked) {
  std::string body = "{\"error\":\"REPLICATION_TIMEOUT\",\"acked\":";
  json::appendInt(body, acked);
  body.push_back('}');
  return body;
}

}  // namespace

int statusForError(std::string_view code) {
  if (code == "MISSING_RECORD" || code == "UNKNOWN_ROUTE") return 404;
  if (code == "REPLICATION_TIMEOUT") return 504;
  if (code == "NOT_READY" || code == "DISK_UNAVAILABLE") return 503;
  if (code == "STORE_FULL" || code == "STORE_REFUSED") return 507;  // Insufficient Storage
  if (code == "TOO_MANY_COLLECTIONS") return 409;
  return 400;
}

Api::Api(Keyspace& keyspace, WriteLog& log, const Cluster& cluster, common::http::Server& server,
         NodeInfo info)
    : keyspace_(keyspace),
      log_(log),
      cluster_(cluster),
      server_(server),
      info_(std::move(info)),
      rest_(*this, keyspace_, info_.limits, info_.watchCollection) {}

void Api::registerRoutes() {
  auto bind = [this](void (Api::*fn)(const Request&, Responder)) {
    return [this, fn](const Request& req, Responder r) { (this->*fn)(req, r); };
  };
  server_.route("/set", bind(&Api::set));
  server_.route("/get", bind(&Api::get));
  server_.route("/rm", bind(&Api::rm));
  server_.route("/is", bind(&Api::is));
  server_.route("/ttl", bind(&Api::ttl));
  server_.route("/persist", bind(&Api::persist));
  server_.route("/clear", bind(&Api::clear));
  server_.route("/getKeys", [this](const Request& req, Responder r) { list(req, r, kListKeys); });
  server_.route("/getValues",
                [this](const Request& req, Responder r) { list(req, r, kListValues); });
  server_.route("/getAll", [this](const Request& req, Responder r) { list(req, r, kListAll); });
  server_.route("/healthcheck", bind(&Api::healthcheck));
  server_.route("/status", bind(&Api::status));
  server_.route("/settings", bind(&Api::status));
  server_.route("/collections", bind(&Api::collections));
  rest_.registerRoutes(server_);
  server_.fallback(
      [](const Request&, Responder r) { r.respond(404, json::errorBody("UNKNOWN_ROUTE")); });
}

static void respondError(common::http::Responder& r, const common::Error& e) {
  r.respond(statusForError(e.code), json::errorBody(e.code));
}

void Api::set(const Request& req, Responder r) {
  auto st = parseKeyParams(req.query, Need::kKeyAndValue, info_.limits, params_);
  if (!st.ok()) return respondError(r, st.error());
  auto c = admitWrite(params_.w);
  if (!c.ok()) return respondError(r, c.error());
  auto m = keyspace_.set(params_.key, params_.value, params_.collection, params_.ttlMs);
  if (!m.ok()) return respondError(r, m.error());  // not stored, not replicated
  finishWrite(*m, *c, r);
}

void Api::ttl(const Request& req, Responder r) {
  auto st = parseKeyParams(req.query, Need::kKey, info_.limits, params_);
  if (!st.ok()) return respondError(r, st.error());
  auto ms = keyspace_.ttlMs(params_.key, params_.collection);
  if (!ms.ok()) return respondError(r, ms.error());  // missing or expired: 404
  scratch_.clear();
  scratch_.append("{\"key\":");
  json::appendString(scratch_, params_.key);
  scratch_.append(",\"ttl\":");
  // Whole seconds, rounded up: a live key never answers 0 (-1: no expiry).
  json::appendInt(scratch_, *ms < 0 ? -1 : (*ms + 999) / 1000);
  scratch_.push_back('}');
  r.respond(200, scratch_);
}

void Api::persist(const Request& req, Responder r) {
  auto st = parseKeyParams(req.query, Need::kKey, info_.limits, params_);
  if (!st.ok()) return respondError(r, st.error());
  auto c = admitWrite(params_.w);
  if (!c.ok()) return respondError(r, c.error());
  auto m = keyspace_.persist(params_.key, params_.collection);
  if (!m.ok()) return respondError(r, m.error());  // missing or expired: 404
  std::string body = "{\"key\":";
  json::appendString(body, params_.key);
  body.append(",\"persisted\":");
  body.append(m->has_value() ? "true}" : "false}");
  if (!m->has_value()) return r.respond(200, body);  // no expiry: nothing written
  finishWrite(**m, *c, r, 200, std::move(body));
}

void Api::rm(const Request& req, Responder r) {
  auto st = parseKeyParams(req.query, Need::kKey, info_.limits, params_);
  if (!st.ok()) return respondError(r, st.error());
  auto c = admitWrite(params_.w);
  if (!c.ok()) return respondError(r, c.error());
  auto m = keyspace_.remove(params_.key, params_.collection);
  if (!m.ok()) return respondError(r, m.error());
  finishWrite(*m, *c, r);
}

void Api::clear(const Request& req, Responder r) {
  auto p = parseClearParams(req.query);
  if (!p.ok()) return respondError(r, p.error());
  auto c = admitWrite(p->w);
  if (!c.ok()) return respondError(r, c.error());
  auto m = keyspace_.clear(p->collection);
  if (!m.ok()) return respondError(r, m.error());
  finishWrite(*m, *c, r);
}

common::Result<WriteLevel> Api::admitWrite(std::string_view wText) {
  auto level = parseWriteLevel(wText);
  if (!level) return common::Error{"INVALID_WRITE_CONCERN", ""};
  if (auto st = log_.admit(*level); !st.ok()) return st.error();
  return *level;
}

void Api::finishWrite(const Mutation& m, WriteLevel level, Responder r, int okStatus,
                      std::string okBody) {
  Ticket ticket = log_.append(m, Source::kClient);
  log_.await(ticket, level,
             [r, okStatus, okBody = std::move(okBody)](const WriteOutcome& o) mutable {
               if (o.status.ok()) return r.respond(okStatus, okBody.empty() ? kSuccess : okBody);
               const std::string& code = o.status.error().code;
               if (code == "REPLICATION_TIMEOUT")
                 return r.respond(504, replicationTimeoutBody(o.acked));
               r.respond(statusForError(code), json::errorBody(code));
             });
}

void Api::get(const Request& req, Responder r) {
  auto st = parseKeyParams(req.query, Need::kKey, info_.limits, params_);
  if (!st.ok()) return respondError(r, st.error());
  auto value = keyspace_.get(params_.key, params_.collection);
  if (!value) return respondError(r, {"MISSING_RECORD", ""});
  scratch_.clear();
  json::appendString(scratch_, *value);
  r.respond(200, scratch_);
}

void Api::is(const Request& req, Responder r) {
  auto st = parseKeyParams(req.query, Need::kKey, info_.limits, params_);
  if (!st.ok()) return respondError(r, st.error());
  if (!keyspace_.contains(params_.key, params_.collection))
    return respondError(r, {"MISSING_RECORD", ""});
  r.respond(200, kSuccess);
}

void Api::list(const Request& req, Responder r, int kind) {
  auto p = parseListParams(req.query);
  if (!p.ok()) return respondError(r, p.error());
  answerList(static_cast<ListKind>(kind), *p, r);
}

void Api::answerList(ListKind kind, const ListParams& p, Responder r) {
  if (p.limit == 0) {
    auto stream = makeListStream(keyspace_, kind, p.prefix, p.cursor, p.collection);
    if (!stream.ok()) return respondError(r, stream.error());
    r.stream(200, std::move(*stream));
    return;
  }
  std::string next;
  scratch_.clear();
  auto page = listPage(keyspace_, kind, p, scratch_, next);
  if (!page.ok()) return respondError(r, page.error());
  r.respond(
      200, scratch_, "application/json",
      next.empty() ? common::http::ExtraHeaders{} : common::http::ExtraHeaders{{"X-Cursor", next}});
}

void Api::healthcheck(const Request&, Responder r) {
  // Draining for a shutdown: health checkers (Docker, a balancer) stop sending clients here.
  if (server_.closing()) return r.respond(503, "{\"status\":\"stopping\"}");
  if (!cluster_.ready()) return r.respond(503, "{\"status\":\"catching-up\"}");
  r.respond(200, "{\"status\":\"ok\"}");
}

void Api::appendCollections(std::string& s) const {
  s.push_back('[');
  bool first = true;
  for (const CollectionInfo& c : keyspace_.collections()) {
    if (!first) s.push_back(',');
    first = false;
    s.append("{\"name\":");
    json::appendString(s, c.name);
    s.append(",\"records\":");
    json::appendUint(s, c.records);
    s.append(",\"tombstones\":");
    json::appendUint(s, c.tombstones);
    s.append(",\"bytes\":");
    json::appendUint(s, c.bytes);
    s.append(",\"expiring\":");
    json::appendUint(s, c.expiring);
    s.push_back('}');
  }
  s.push_back(']');
}

void Api::collections(const Request&, Responder r) {
  scratch_.clear();
  scratch_.append("{\"collections\":");
  appendCollections(scratch_);
  scratch_.push_back('}');
  r.respond(200, scratch_);
}

void Api::status(const Request&, Responder r) {
  std::string& s = scratch_;
  s.clear();
  s.append("{\"version\":");
  json::appendString(s, MESHKV_VERSION);
  s.append(",\"hostname\":");
  json::appendString(s, info_.hostname);
  s.append(",\"port\":");
  json::appendInt(s, server_.port());
  s.append(",\"maxKeyLength\":");
  json::appendUint(s, info_.limits.maxKeyLength);
  s.append(",\"maxValueLength\":");
  json::appendUint(s, info_.limits.maxValueLength);
  // The default collection's, as in the original (a /clear empties it); "collections" has all.
  s.append(",\"availableRecords\":");
  json::appendUint(s, keyspace_.collections().front().records);
  s.append(",\"uptimeSeconds\":");
  json::appendUint(s, (uv_now(server_.loop()) - info_.startedAtMs) / 1000);
  s.append(",\"openConnections\":");
  json::appendUint(s, server_.stats().openConnections);
  s.append(",\"totalRequests\":");
  json::appendUint(s, server_.stats().totalRequests);
  s.append(",\"memory\":{\"residentBytes\":");
  json::appendUint(s, residentBytes());
  s.append(",\"storeBytes\":");
  json::appendUint(s, keyspace_.memoryUsed());
  s.append("},\"collections\":");
  appendCollections(s);
  cluster_.appendStatus(s);
  log_.durability().appendStatus(s);
  if (info_.appendStatus) info_.appendStatus(s);
  s.push_back('}');
  r.respond(200, s);
}

}  // namespace db
