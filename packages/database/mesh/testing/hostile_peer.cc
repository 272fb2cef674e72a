// See hostile_peer.h. Every path goes to the server's fallback handler; the script decides.
#include "database/mesh/testing/hostile_peer.h"

#include <algorithm>

namespace db::testing {

HostilePeer::HostilePeer(uv_loop_t* loop, std::string id)
    : id_(std::move(id)),
      server_(std::make_unique<common::http::Server>(loop, common::http::ServerOptions{})) {
  script_ = [](const common::http::Request&) { return Answer{404, "{}", {}}; };
  server_->fallback([this](const common::http::Request& req, common::http::Responder r) {
    seen_.push_back({std::string(req.method), std::string(req.path),
                     std::string(req.header("x-mesh-from")), std::string(req.body)});
    Answer a = script_(req);
    if (signer_ != nullptr) {
      std::string from = id_;
      for (const auto& [name, value] : a.headers) {
        if (name == "X-Mesh-From") from = value;
      }
      a.headers.emplace_back(
          "X-Mesh-Auth", signer_->signResponse(req.header("x-mesh-auth"), a.status, from, a.body));
    }
    r.respond(a.status, a.body, "application/json", std::move(a.headers));
  });
}

int HostilePeer::listen() {
  return server_->listen("127.0.0.1", 0);
}

size_t HostilePeer::count(std::string_view path) const {
  return static_cast<size_t>(
      std::count_if(seen_.begin(), seen_.end(), [&](const Seen& s) { return s.path == path; }));
}

void HostilePeer::close(std::function<void()> done) {
  server_->close(std::move(done));
}

HostilePeer::Answer HostilePeer::evicted(std::string_view from) {
  return Answer{
      409,
      R"({"error":"EVICTED"})",
      {{"X-Mesh-Error", "EVICTED"}, {"X-Mesh-Gc", "0"}, {"X-Mesh-From", std::string(from)}}};
}

HostilePeer::Answer HostilePeer::gossip(std::string_view from, uint64_t epoch,
                                        std::string_view members, std::string_view extra) {
  std::string body = "{\"from\":\"" + std::string(from) + "\",\"epoch\":" + std::to_string(epoch) +
                     ",\"members\":[" + std::string(members) +
                     "],\"ready\":true,\"delivered\":0,\"digest\":\"0\",\"gc\":0" +
                     (extra.empty() ? "" : "," + std::string(extra)) + "}";
  return Answer{200, std::move(body), {{"X-Mesh-From", std::string(from)}}};
}

}  // namespace db::testing
