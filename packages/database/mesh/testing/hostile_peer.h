// HostilePeer: a hostile mesh peer for tests. A common::http::Server on 127.0.0.1:0 on the
// test's loop that answers EVERY request with what its script says (an eviction, forged gossip,
// a replayed answer...) and records every request it received, so a test can assert that no
// replication record ever reached it. It can sign its answers like a node holding a secret
// (signWith), to play an insider. Owned by the test; close() before the loop closes. (h-valid's
// FakePeer forges records; the two can become one helper.)
// The one thing to get right: the fake only answers; whether a node believed it is asserted on
// the nodes (their /status, their data), never on the fake.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/http/server.h"
#include "database/mesh/auth.h"

namespace db::testing {

class HostilePeer {
 public:
  struct Answer {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  struct Seen {
    std::string method, path, from, body;
  };
  using Script = std::function<Answer(const common::http::Request&)>;

  HostilePeer(uv_loop_t* loop, std::string id);
  // Listens on 127.0.0.1:0; 0 or -errno.
  int listen();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  std::string hostPort() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  const std::string& id() const { return id_; }
  void answerWith(Script script) { script_ = std::move(script); }
  // Sign answers (X-Mesh-Auth bound to each request's proof) as a holder of `secret` would.
  void signWith(std::string secret) {
    signer_ = std::make_unique<MeshAuth>(std::move(secret), 60000);
  }
  const std::vector<Seen>& seen() const { return seen_; }
  size_t count(std::string_view path) const;
  void close(std::function<void()> done);

  // Scripts.
  static Answer evicted(std::string_view from);  // 409 EVICTED, as a node answers an evicted life
  // A member list as a node sends it: `members` is the JSON array's content.
  // `extra`: more top-level fields, spelled `"name":value,...` (none when empty).
  static Answer gossip(std::string_view from, uint64_t epoch, std::string_view members,
                       std::string_view extra = {});

 private:
  std::string id_;
  std::unique_ptr<common::http::Server> server_;
  Script script_;
  std::unique_ptr<MeshAuth> signer_;
  std::vector<Seen> seen_;
};

}  // namespace db::testing
