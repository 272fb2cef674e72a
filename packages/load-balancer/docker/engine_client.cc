// See engine_client.h.
#include "load-balancer/docker/engine_client.h"

#include <charconv>
#include <cstdlib>

namespace lb {

namespace {
// "X.Y" with decimal X and Y; a number too large for an int is unparsable (not an overflow).
bool parseVersion(std::string_view v, int& major, int& minor) {
  auto number = [](std::string_view s, int& out) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
  };
  auto dot = v.find('.');
  if (dot == std::string_view::npos) return false;
  return number(v.substr(0, dot), major) && number(v.substr(dot + 1), minor);
}
}  // namespace

int compareApiVersions(std::string_view a, std::string_view b) {
  int am, an, bm, bn;
  bool ao = parseVersion(a, am, an);
  bool bo = parseVersion(b, bm, bn);
  if (!ao || !bo) return ao ? 1 : (bo ? -1 : 0);
  if (am != bm) return am < bm ? -1 : 1;
  if (an != bn) return an < bn ? -1 : 1;
  return 0;
}

std::string engineError(const common::http::ClientResponse& r) {
  if (!r.error.empty()) return r.error;
  std::string body = r.body.substr(0, 200);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return "HTTP " + std::to_string(r.status) + ": " + body;
}

EngineClient::EngineClient(uv_loop_t* loop, const std::string& apiLocation)
    : http_(loop), location_(apiLocation) {
  if (apiLocation.rfind("http://", 0) == 0) {
    base_ = apiLocation;
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  } else {
    base_ = "http://localhost";
    unixSocket_ = apiLocation;
  }
}

common::http::ClientRequest EngineClient::request(const std::string& path) const {
  common::http::ClientRequest r;
  r.url = base_ + path;
  r.unixSocket = unixSocket_;
  r.headers.push_back("Accept: application/json");
  return r;
}

void EngineClient::ping(std::function<void(std::string, std::string)> done) {
  auto r = request("/_ping");
  r.timeoutMs = 3000;
  http_.send(std::move(r), [this, done = std::move(done)](common::http::ClientResponse&& resp) {
    if (!resp.error.empty()) return done("", resp.error);
    if (resp.status != 200) {
      return done("",
                  "ping answered " + std::to_string(resp.status) + ": " + resp.body.substr(0, 200));
    }
    std::string daemon(resp.header("api-version"));
    std::string v;
    if (daemon.empty()) {
      v = "1.24";  // very old daemons do not send it; the oldest schema we can read
    } else {
      v = compareApiVersions(daemon, kNewestApiVersion) < 0 ? daemon
                                                            : std::string(kNewestApiVersion);
    }
    version_ = v;
    done(v, "");
  });
}

void EngineClient::get(const std::string& pathAndQuery,
                       std::function<void(common::http::ClientResponse&&)> done, long timeoutMs) {
  auto r = request("/v" + version_ + pathAndQuery);
  r.timeoutMs = timeoutMs;
  http_.send(std::move(r), std::move(done));
}

void EngineClient::send(const std::string& method, const std::string& pathAndQuery,
                        std::string body, std::function<void(common::http::ClientResponse&&)> done,
                        long timeoutMs) {
  auto r = request("/v" + version_ + pathAndQuery);
  r.method = method;
  r.body = std::move(body);
  if (!r.body.empty()) r.headers.push_back("Content-Type: application/json");
  r.timeoutMs = timeoutMs;
  http_.send(std::move(r), std::move(done));
}

uint64_t EngineClient::events(const std::string& query, std::function<void(long)> onHeaders,
                              std::function<void(std::string_view)> onData,
                              std::function<void(std::string)> onDone) {
  auto r = request("/v" + version_ + "/events?" + query);
  r.timeoutMs = 0;
  r.connectTimeoutMs = 3000;
  return http_.stream(std::move(r), std::move(onHeaders), std::move(onData), std::move(onDone));
}

}  // namespace lb
