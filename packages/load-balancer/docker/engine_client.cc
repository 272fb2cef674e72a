// See engine_client.h.
#include "load-balancer/docker/engine_client.h"

#include <cstdlib>

namespace lb {

namespace {
bool parseVersion(std::string_view v, int& major, int& minor) {
  auto dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= v.size()) return false;
  major = 0;
  minor = 0;
  for (size_t i = 0; i < dot; ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
    major = major * 10 + (v[i] - '0');
  }
  for (size_t i = dot + 1; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
    minor = minor * 10 + (v[i] - '0');
  }
  return true;
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

uint64_t EngineClient::events(const std::string& query, std::function<void(long)> onHeaders,
                              std::function<void(std::string_view)> onData,
                              std::function<void(std::string)> onDone) {
  auto r = request("/v" + version_ + "/events?" + query);
  r.timeoutMs = 0;
  r.connectTimeoutMs = 3000;
  return http_.stream(std::move(r), std::move(onHeaders), std::move(onData), std::move(onDone));
}

}  // namespace lb
