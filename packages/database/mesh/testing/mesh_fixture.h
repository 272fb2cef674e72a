// MeshFixture: the in-process cluster every MeshCluster test builds on: nodes (Keyspace + Server +
// WriteLog + MeshCluster, wired as the Node wires them) on ONE libuv loop driven by the test
// thread, over real loopback sockets, plus runUntil (poll a condition with a deadline) and the
// teardown that leaves every node, closes every server and asserts that the loop closes cleanly.
// Used by mesh_cluster_test.cc and mesh_hostile_test.cc. The one thing to get right: a test never
// sleeps; it runs the loop until its condition holds, and fails at the deadline.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/http/server.h"
#include "common/testing/run_until.h"
#include "database/mesh/mesh_cluster.h"

namespace db::testing {

struct TestNode {
  std::string id;
  std::unique_ptr<Keyspace> keyspace;
  std::unique_ptr<common::http::Server> server;
  std::unique_ptr<WriteLog> log;
  std::unique_ptr<MeshCluster> mesh;
  bool closed = false;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
  // A client's write as the routes make it: applied, then appended to the log.
  Ticket write(const Mutation& m) { return log->append(m, Source::kClient); }
};

// Wires `n` as the Node does: the mesh subscribes to the node's log and answers its w= waits.
inline void wireMesh(uv_loop_t* loop, TestNode& n, MeshOptions o) {
  n.log = std::make_unique<WriteLog>(loop);
  n.mesh = std::make_unique<MeshCluster>(loop, *n.keyspace, *n.log, std::move(o));
  n.log->subscribe(*n.mesh);
  n.log->setReplication(*n.mesh);
  n.log->start();
}

// Leaves the mesh, then closes the log and the server; `closed` once all is done.
inline void closeNode(TestNode& n) {
  if (n.mesh == nullptr || n.closed) return;
  TestNode* p = &n;
  n.mesh->leave([p] { p->log->close([p] { p->server->close([p] { p->closed = true; }); }); });
}

class MeshFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    uv_timer_init(&loop_, &tick_);
    // Bounds how long one loop iteration may block, so runUntil re-checks its condition.
    uv_timer_start(
        &tick_, [](uv_timer_t*) {}, 5, 5);
  }

  void TearDown() override {
    for (auto& n : nodes_) closeNode(*n);
    runUntil(
        [&] {
          return std::all_of(nodes_.begin(), nodes_.end(), [](auto& n) { return n->closed; });
        },
        10000);
    nodes_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  MeshOptions options(const std::string& id, const std::string& join) {
    MeshOptions o;
    o.nodeId = id;
    o.advertiseUrl = "http://127.0.0.1:0";
    o.meshNetworkUrl = join;
    o.secret = secret_;
    o.probeIntervalMs = 100;
    o.probeTimeoutMs = 80;
    o.suspicionTimeoutMs = 500;
    o.joinRetryMs = 10;
    o.antiEntropyIntervalMs = 200;
    o.replicationTimeoutMs = 300;
    return o;
  }

  TestNode& addNode(const std::string& join, MeshOptions* custom = nullptr) {
    auto n = std::make_unique<TestNode>();
    n->id = "n" + std::to_string(nodes_.size() + 1);
    n->keyspace = std::make_unique<Keyspace>(makeDefaultKeyspaceOptions(n->id));
    n->server = std::make_unique<common::http::Server>(&loop_, common::http::ServerOptions{});
    MeshOptions o = custom != nullptr ? *custom : options(n->id, join);
    o.nodeId = n->id;
    wireMesh(&loop_, *n, o);
    n->mesh->registerRoutes(*n->server);
    EXPECT_EQ(n->server->listen("127.0.0.1", 0), 0);
    n->mesh->start();
    nodes_.push_back(std::move(n));
    return *nodes_.back();
  }

  void closeNode(TestNode& n) { testing::closeNode(n); }

  bool runUntil(const std::function<bool()>& cond, int timeoutMs) {
    return common::testing::runUntil(&loop_, cond, timeoutMs);
  }

  Ticket write(TestNode& n, const std::string& k, const std::string& v) {
    return n.write(*n.keyspace->set(k, v));
  }

  bool allAlive(size_t n) {
    for (auto& node : nodes_) {
      if (node->mesh->membership().liveCount() != n || !node->mesh->ready()) return false;
    }
    return true;
  }

  bool sameRoots() {
    uint64_t r = nodes_[0]->keyspace->rootHash();
    for (auto& n : nodes_) {
      if (n->keyspace->rootHash() != r) return false;
    }
    return true;
  }

  uv_loop_t loop_;
  uv_timer_t tick_;
  std::string secret_ = "test-secret";
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

}  // namespace db::testing
