// See fake_peer.h. Every answer is what a real node would send, built by the same code (the
// StoreBridge over the fake's store), so a test changes only WHAT the fake holds, not how the
// protocol goes.
#include "database/mesh/testing/fake_peer.h"

#include <chrono>

#include "common/http/json.h"
#include "database/mesh/mesh_cluster.h"
#include "database/mesh/mesh_util.h"

namespace db::testing {

namespace json = common::json;

FakePeer::FakePeer(uv_loop_t* loop, std::string id)
    : id_(std::move(id)),
      epoch_(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count())),
      store_(std::make_unique<Keyspace>(makeDefaultKeyspaceOptions(id_))),
      bridge_(*store_, log_),
      server_(loop, common::http::ServerOptions{}),
      client_(loop) {
  using common::http::Request;
  using common::http::Responder;
  auto gossipRoute = [this](const Request&, Responder r) { r.respond(200, gossip()); };
  server_.route("/_mesh/join", gossipRoute);
  server_.route("/_mesh/ping", gossipRoute);
  server_.route("/_mesh/ping-req",
                [](const Request&, Responder r) { r.respond(200, "{\"ok\":true}"); });
  server_.route("/_mesh/leave",
                [](const Request&, Responder r) { r.respond(200, "{\"success\":true}"); });
  server_.route("/_mesh/replicate", [this](const Request& req, Responder r) {
    auto f = wire::validateFrame(req.body, wire::FrameType::kBatch);
    if (!f.ok()) return r.respond(400, json::errorBody(f.error().code));
    ++batchesAcked_;
    r.respond(200, "{\"ack\":" + std::to_string(f->seq) + "}");
  });
  server_.route("/_mesh/digest", [this](const Request& req, Responder r) {
    auto answer = bridge_.answerDigest(req.body);
    if (!answer.ok()) return r.respond(400, json::errorBody(answer.error().code));
    ++digestsAnswered_;
    r.respond(200, *answer, mesh_util::kOctet);
  });
  server_.route("/_mesh/repair", [this](const Request& req, Responder r) {
    // Answers its records of the segments asked for; takes nothing of what it is sent.
    auto f = wire::validateFrame(req.body, wire::FrameType::kRecords);
    if (!f.ok()) return r.respond(400, json::errorBody(f.error().code));
    auto segments = StoreBridge::segmentsFromExtra(f->extra);
    if (!segments.ok()) return r.respond(400, json::errorBody(segments.error().code));
    ++repairsAnswered_;
    r.respond(200, bridge_.segmentRecords(*segments), mesh_util::kOctet);
  });
  server_.route("/_mesh/reconcile", [this](const Request& req, Responder r) {
    // The second level of a round: its records the summary lacks; it wants what we have.
    auto answer = bridge_.answerSummary(req.body);
    if (!answer.ok()) return r.respond(400, json::errorBody(answer.error().code));
    ++repairsAnswered_;
    r.respond(200, *answer, mesh_util::kOctet);
  });
  server_.route("/_mesh/snapshot", [this](const Request& req, Responder r) {
    auto page = bridge_.snapshotPage(mesh_util::queryParam(req.query, "cursor"), 1u << 20);
    if (!page.ok()) return r.respond(400, json::errorBody(page.error().code));
    ++snapshotPagesServed_;
    r.respond(200, *page, mesh_util::kOctet, {{"X-Mesh-Gc", "0"}});
  });
}

FakePeer::~FakePeer() = default;

int FakePeer::listen() {
  return server_.listen("127.0.0.1", 0);
}

std::string FakePeer::url() const {
  return "http://127.0.0.1:" + std::to_string(server_.port());
}

std::string FakePeer::gossip() const {
  // Itself, alive and ready: the node adds it as a peer and compares digests with it.
  std::string s = "{\"from\":";
  json::appendString(s, id_);
  s.append(",\"epoch\":");
  json::appendUint(s, epoch_);
  s.append(",\"members\":[{\"id\":");
  json::appendString(s, id_);
  s.append(",\"url\":");
  json::appendString(s, url());
  s.append(",\"state\":\"alive\",\"inc\":1,\"epoch\":");
  json::appendUint(s, epoch_);
  s.append("}],\"ready\":true,\"delivered\":0,\"digest\":\"");
  s.append(mesh_util::hex64(store_->rootHash()));
  s.append("\",\"gc\":0}");
  return s;
}

void FakePeer::post(const std::string& nodeUrl, const std::string& path, std::string body,
                    std::function<void(common::http::ClientResponse&&)> done) {
  common::http::ClientRequest req;
  req.method = "POST";
  req.url = nodeUrl + path;
  req.headers.push_back("Content-Type: application/octet-stream");
  req.headers.push_back("X-Mesh-From: " + id_);
  req.headers.push_back(std::string(kEpochHeader) + ": " + std::to_string(epoch_));
  req.body = std::move(body);
  client_.send(std::move(req), std::move(done));
}

void FakePeer::join(const std::string& nodeUrl, std::function<void(long status)> done) {
  post(nodeUrl, "/_mesh/join", gossip(),
       [done = std::move(done)](common::http::ClientResponse&& r) { done(r.status); });
}

void FakePeer::close(std::function<void()> done) {
  auto left = std::make_shared<int>(2);
  auto one = [left, done = std::move(done)] {
    if (--*left == 0) done();
  };
  client_.close(one);
  server_.close(one);
}

}  // namespace db::testing
