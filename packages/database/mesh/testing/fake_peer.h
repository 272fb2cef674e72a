// FakePeer: a pretend mesh member for tests of what a node does with a hostile peer's data. It
// serves the internal routes a real node calls (/_mesh/join|ping|ping-req|leave answered with
// its own gossip, /_mesh/replicate acknowledged, /_mesh/digest|repair|snapshot answered from its
// store) and can push raw frames to a node. It signs nothing: it talks to open meshes only.
// Owned by the test, on the test's loop; close() it after the nodes that talk to it have left.
// The one thing to get right: its store is a plain Keyspace filled with Keyspace::set/apply,
// which check no record rule, so it serves exactly what a forging peer would (any bytes, any
// length) through the same StoreBridge code a real node uses to answer.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/http/client.h"
#include "common/http/server.h"
#include "database/mesh/store_bridge.h"
#include "database/storage/keyspace.h"

namespace db::testing {

class FakePeer {
 public:
  explicit FakePeer(uv_loop_t* loop, std::string id = "fake");
  ~FakePeer();
  FakePeer(const FakePeer&) = delete;
  FakePeer& operator=(const FakePeer&) = delete;

  // Listens on 127.0.0.1, port 0. Returns 0 or a libuv error.
  int listen();
  std::string url() const;
  const std::string& id() const { return id_; }

  // What it serves. Forge with store().set(key, value): stamped with its clock and its id.
  Keyspace& store() { return *store_; }

  // POST `body` to `path` on a node, with this peer's X-Mesh-From and X-Mesh-Epoch.
  void post(const std::string& nodeUrl, const std::string& path, std::string body,
            std::function<void(common::http::ClientResponse&&)> done);
  // Announces itself to a node (POST /_mesh/join with its gossip): the node adds it as a live,
  // ready member, streams its writes to it and runs anti-entropy with it.
  void join(const std::string& nodeUrl, std::function<void(long status)> done);

  // What the nodes asked of it.
  uint64_t batchesAcked() const { return batchesAcked_; }
  uint64_t digestsAnswered() const { return digestsAnswered_; }
  uint64_t repairsAnswered() const { return repairsAnswered_; }  // /_mesh/repair + reconcile
  uint64_t snapshotPagesServed() const { return snapshotPagesServed_; }

  // Closes its server and client; done runs once every handle is closed.
  void close(std::function<void()> done);

 private:
  std::string gossip() const;

  std::string id_;
  uint64_t epoch_;
  std::unique_ptr<Keyspace> store_;
  WriteLog log_{nullptr};  // the fake's store is filled directly; nothing is persisted
  StoreBridge bridge_;
  common::http::Server server_;
  common::http::Client client_;
  uint64_t batchesAcked_ = 0;
  uint64_t digestsAnswered_ = 0;
  uint64_t repairsAnswered_ = 0;
  uint64_t snapshotPagesServed_ = 0;
};

}  // namespace db::testing
