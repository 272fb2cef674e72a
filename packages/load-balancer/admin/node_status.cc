// See node_status.h.
#include "load-balancer/admin/node_status.h"

#include <spdlog/spdlog.h>

#include "common/http/json.h"
#include "common/http/url.h"

namespace lb {

namespace {

constexpr long kFetchTimeoutMs = 2000;

void fail(common::http::Responder& r, int status, std::string_view code, std::string_view why) {
  std::string body = "{\"error\":";
  common::json::appendString(body, code);
  body += ",\"message\":";
  common::json::appendString(body, why);
  body += '}';
  r.respond(status, body);
}

}  // namespace

const Backend* NodeStatusProxy::pick(std::string_view wantedId) const {
  const uint64_t now = uv_now(loop_);
  for (const auto& b : pool_.all()) {
    if (wantedId.empty() ? b->usable(now) : b->id == wantedId) return b.get();
  }
  return nullptr;
}

void NodeStatusProxy::handle(const common::http::Request& req, common::http::Responder r) {
  std::string wanted;
  common::forEachRawParam(req.query, [&](std::string_view k, std::string_view v, bool) {
    if (k == "backend") common::formDecode(v, wanted);
    return true;
  });
  const Backend* b = pick(wanted);
  if (b == nullptr) {
    if (wanted.empty()) return fail(r, 503, "NO_BACKEND", "no usable backend to ask");
    return fail(r, 404, "UNKNOWN_BACKEND", "no backend with id " + wanted);
  }
  std::string head = "{\"backend\":{\"id\":";
  common::json::appendString(head, b->id);
  head += ",\"name\":";
  common::json::appendString(head, b->name);
  head += ",\"address\":";
  common::json::appendString(head, b->address);
  head += "},\"status\":";
  common::http::ClientRequest cr;
  cr.url = "http://" + b->address + "/status";
  cr.connectTimeoutMs = kFetchTimeoutMs;
  cr.timeoutMs = kFetchTimeoutMs;
  cr.maxResponseBytes = 1u << 20;
  client_.send(
      std::move(cr), [r, head = std::move(head)](common::http::ClientResponse&& res) mutable {
        if (!res.error.empty()) return fail(r, 502, "NODE_UNREACHABLE", res.error);
        size_t first = res.body.find_first_not_of(" \t\r\n");
        if (res.status != 200 || first == std::string::npos || res.body[first] != '{') {
          return fail(r, 502, "NODE_STATUS_FAILED",
                      "the node answered " + std::to_string(res.status) + ", not a JSON object");
        }
        r.respond(200, head + res.body + "}");
      });
}

}  // namespace lb
