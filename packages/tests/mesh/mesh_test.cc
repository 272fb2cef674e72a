// Black-box tests of the mesh: real meshkv-node processes on loopback, joined in chains, written
// to on different nodes, killed with SIGKILL and restarted, partitioned through test proxies,
// and compared by /getAll and /status digests, and sent hand-made batches (the wire codec of
// meshkv_mesh) as an outsider would. Each test polls with deadlines, never sleeps.
// Under sanitizers (slower binaries) the write counts are scaled down (see kScale), never the
// assertions.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "database/mesh/wire.h"
#include "database/storage/hlc.h"
#include "tests/mesh/harness.h"

namespace meshtest {
namespace {

int scaled(int n) {
  return sanitized() ? std::max(1, n / 5) : n;
}
int deadline(int ms) {
  return sanitized() ? ms * 3 : ms;
}

std::string k(int i) {
  return "key" + std::to_string(i);
}

bool allKnowAll(Cluster& c, int n) {
  for (int i = 0; i < c.size(); ++i) {
    if (!c.node(i).running()) continue;
    if (membersIn(c.node(i).get("/status"), "alive") != n) return false;
  }
  return true;
}

// True when every running node answers the same non-empty digest and is ready.
bool converged(Cluster& c, std::vector<int> nodes = {}) {
  if (nodes.empty()) {
    for (int i = 0; i < c.size(); ++i) nodes.push_back(i);
  }
  std::set<std::string> digests;
  for (int i : nodes) {
    auto s = c.node(i).get("/status");
    if (!statusReady(s)) return false;
    std::string d = statusDigest(s);
    if (d.empty()) return false;
    digests.insert(d);
  }
  return digests.size() == 1;
}

std::vector<std::string> pairsOf(Cluster& c, int i) {
  bool ok = false;
  auto r = c.node(i).get("/getAll", 60000);
  auto p = allPairs(r, &ok);
  EXPECT_TRUE(ok) << "node " << i << " /getAll: " << r.status << " " << r.body.substr(0, 200);
  return p;
}

void expectSameData(Cluster& c, std::vector<int> nodes = {}) {
  if (nodes.empty()) {
    for (int i = 0; i < c.size(); ++i) nodes.push_back(i);
  }
  auto ref = pairsOf(c, nodes[0]);
  for (size_t j = 1; j < nodes.size(); ++j) {
    EXPECT_EQ(pairsOf(c, nodes[j]), ref) << "node " << nodes[j] << " differs from " << nodes[0];
  }
}

TEST(Mesh, ChainJoinsEndInAFullMesh) {
  Cluster c("chain");
  ASSERT_EQ(c.addNode(-1), 0);
  ASSERT_EQ(c.addNode(0), 1);  // n2 joins n1
  ASSERT_EQ(c.addNode(1), 2);  // n3 joins n2
  ASSERT_EQ(c.addNode(2), 3);  // n4 joins n3
  EXPECT_TRUE(waitFor([&] { return allKnowAll(c, 4); }, deadline(10000)));
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(waitFor([&] { return statusReady(c.node(i).get("/status")); }, deadline(10000)));
    EXPECT_EQ(c.node(i).get("/healthcheck").status, 200);
  }
  // The original's public /ping keeps working and lists every node.
  auto p = c.node(3).get("/ping");
  EXPECT_EQ(p.status, 200);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NE(p.body.find("\"port\":" + std::to_string(c.node(i).port())), std::string::npos)
        << p.body;
  }
}

// The README's way to make a cluster: the first node is started plainly (no MESH_NETWORK_URL),
// the others join through it, or through a node that joined it (a chain). Every node then
// knows all three alive, and a write on any node is read on every node.
TEST(Mesh, FirstNodeStartedWithoutAUrlIsJoinedDirectlyAndThroughAChain) {
  for (bool chain : {false, true}) {
    SCOPED_TRACE(chain ? "node 3 joins through node 2" : "nodes 2 and 3 join through node 1");
    Cluster c(chain ? "plain-first-chain" : "plain-first");
    ASSERT_EQ(c.addNode(-1), 0);
    // Ready the moment it listens (the port file is written in the turn that starts the mesh):
    // there is nobody to join, so there are no join attempts to wait out.
    EXPECT_TRUE(statusReady(c.node(0).get("/status"))) << c.node(0).get("/status").body;
    ASSERT_EQ(c.addNode(0), 1);
    ASSERT_EQ(c.addNode(chain ? 1 : 0), 2);
    ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 3) && converged(c); }, deadline(10000)));
    for (int w = 0; w < 3; ++w) {
      std::string key = "from" + std::to_string(w);
      ASSERT_EQ(c.node(w).get("/set?k=" + key + "&v=" + std::to_string(w)).status, 200);
      for (int r = 0; r < 3; ++r) {
        EXPECT_TRUE(waitFor(
            [&] { return c.node(r).get("/get?k=" + key).body == "\"" + std::to_string(w) + "\""; },
            deadline(5000)))
            << "written on node " << w << ", read on node " << r;
      }
    }
    // The first node's /ping lists the three, as the original's does.
    auto p = c.node(0).get("/ping");
    EXPECT_EQ(p.status, 200);
    for (int i = 0; i < 3; ++i) {
      EXPECT_NE(p.body.find("\"port\":" + std::to_string(c.node(i).port())), std::string::npos)
          << p.body;
    }
  }
}

TEST(Mesh, PublicPingMergesTheListItReceives) {
  Cluster c("ping");
  ASSERT_EQ(c.addNode(-1), 0);
  ASSERT_EQ(c.addNode(-1), 1);  // two separate one-node clusters
  ASSERT_TRUE(waitFor([&] { return statusReady(c.node(1).get("/status")); }, deadline(10000)));
  EXPECT_EQ(membersIn(c.node(0).get("/status"), "alive"), 1);
  auto r = c.node(0).get("/ping?nodes=" + c.node(1).id() + ":" + std::to_string(c.node(1).port()));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(waitFor([&] { return allKnowAll(c, 2); }, deadline(10000)));
}

TEST(Mesh, WritesOnDifferentNodesConverge) {
  Cluster c("converge");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.addNode(i - 1), i);
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 3) && converged(c); }, deadline(10000)));
  int n = scaled(600);
  for (int i = 0; i < n; ++i) {
    auto r = c.node(i % 3).get("/set?k=" + k(i % 200) + "&v=" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  ASSERT_TRUE(waitFor([&] { return converged(c); }, deadline(10000)));
  expectSameData(c);
  EXPECT_EQ(pairsOf(c, 0).size(), static_cast<size_t>(std::min(n, 200)));
  // A value written on one node is readable on the others (eventually, quickly).
  ASSERT_EQ(c.node(0).get("/set?k=fresh&v=yes").status, 200);
  EXPECT_TRUE(waitFor([&] { return c.node(2).get("/get?k=fresh").body == "\"yes\""; }, 5000));
}

TEST(Mesh, RemoveAndClearRacingSetEndIdenticalEverywhere) {
  Cluster c("race");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.addNode(i - 1), i);
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 3) && converged(c); }, deadline(10000)));
  std::atomic<bool> failed{false};
  int n = scaled(400);
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < n; ++i) {
        std::string key = k((i * 7 + t) % 50);
        HttpResult r;
        if (i % 97 == 96) {
          r = c.node(t).get("/clear");
        } else if (i % 5 == 4) {
          r = c.node(t).get("/rm?k=" + key);
          if (r.status == 404) continue;
        } else {
          r = c.node(t).get("/set?k=" + key + "&v=" + std::to_string(t) + "-" + std::to_string(i));
        }
        if (r.status != 200) failed = true;
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_FALSE(failed);
  ASSERT_TRUE(waitFor([&] { return converged(c); }, deadline(10000)));
  expectSameData(c);
  // A write after a clear survives on every node.
  ASSERT_EQ(c.node(1).get("/clear").status, 200);
  ASSERT_EQ(c.node(2).get("/set?k=after&v=clear").status, 200);
  ASSERT_TRUE(waitFor([&] { return converged(c); }, deadline(10000)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(pairsOf(c, i), std::vector<std::string>{"after=clear"}) << "node " << i;
  }
}

TEST(Mesh, KilledNodeRestartsCatchesUpAndTheClusterConverges) {
  Cluster c("kill9");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.addNode(i - 1), i);
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 3) && converged(c); }, deadline(10000)));
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 100000; ++i) {
      if (c.node(i % 2).get("/set?k=" + k(i % 3000) + "&v=" + std::to_string(i)).status == 200) {
        ++written;
      }
    }
  });
  ASSERT_TRUE(waitFor([&] { return written > scaled(500); }, deadline(20000)));
  c.node(2).kill9();
  int before = written;
  ASSERT_TRUE(waitFor([&] { return written > before + scaled(500); }, deadline(20000)));
  // The survivors see it die.
  EXPECT_TRUE(
      waitFor([&] { return membersIn(c.node(0).get("/status"), "dead") == 1; }, deadline(10000)));
  ASSERT_TRUE(c.restart(2, 0));
  EXPECT_TRUE(waitFor([&] { return statusReady(c.node(2).get("/status")); }, deadline(20000)));
  before = written;
  ASSERT_TRUE(waitFor([&] { return written > before + scaled(300); }, deadline(20000)));
  stop = true;
  writer.join();
  EXPECT_TRUE(waitFor([&] { return converged(c); }, deadline(15000)));
  expectSameData(c);
  EXPECT_TRUE(waitFor([&] { return allKnowAll(c, 3); }, deadline(10000)));
}

TEST(Mesh, NodeRestartedBeforeItWasDeclaredDeadIsFollowedToItsNewAddress) {
  Cluster c("fastrestart");
  c.commonEnv["SUSPICION_TIMEOUT_MS"] = "60000";  // nobody declares it dead meanwhile
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.addNode(i - 1), i);
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 3) && converged(c); }, deadline(10000)));
  for (int i = 0; i < 50; ++i) ASSERT_EQ(c.node(0).get("/set?k=" + k(i) + "&v=1").status, 200);
  int oldPort = c.node(2).port();
  c.node(2).kill9();
  ASSERT_TRUE(c.restart(2, 0));  // PORT=0: a new port, so a new URL under the same id
  ASSERT_NE(c.node(2).port(), oldPort);
  EXPECT_TRUE(waitFor([&] { return statusReady(c.node(2).get("/status")); }, deadline(10000)));
  ASSERT_EQ(c.node(1).get("/set?k=after&v=restart").status, 200);
  EXPECT_TRUE(
      waitFor([&] { return c.node(2).get("/get?k=after").body == "\"restart\""; }, deadline(5000)));
  EXPECT_TRUE(waitFor([&] { return converged(c); }, deadline(10000)));
  expectSameData(c);
}

TEST(Mesh, NodeAddedAfterManyWritesHasThemAllWhenReady) {
  Cluster c("catchup");
  ASSERT_EQ(c.addNode(-1), 0);
  ASSERT_EQ(c.addNode(0), 1);
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 2) && converged(c); }, deadline(10000)));
  // Many writes, fast: pipelined through several client threads.
  int n = sanitized() ? 20000 : 100000;
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = t; i < n; i += 4) {
        if (c.node(i % 2).get("/set?k=" + k(i) + "&v=v" + std::to_string(i)).status != 200) ++bad;
      }
    });
  }
  for (auto& t : ts) t.join();
  ASSERT_EQ(bad, 0);
  ASSERT_EQ(c.addNode(0), 2);
  // Not ready (503) until it has everything; when it says ready it holds all n records.
  EXPECT_TRUE(waitFor([&] { return statusReady(c.node(2).get("/status")); }, deadline(30000)));
  auto pairs = pairsOf(c, 2);
  EXPECT_EQ(pairs.size(), static_cast<size_t>(n));
  EXPECT_EQ(c.node(2).get("/healthcheck").status, 200);
  EXPECT_TRUE(waitFor([&] { return converged(c); }, deadline(10000)));
}

TEST(Mesh, PartitionDivergesThenConvergesAfterHealingWithNothingAckedLost) {
  Cluster c("partition");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.addNode(i - 1, {}, /*withProxy=*/true), i);
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 3) && converged(c); }, deadline(10000)));
  c.partition({{0, 1}, {2}});
  std::set<std::string> acked;
  for (int i = 0; i < scaled(200); ++i) {
    int node = i % 3;
    std::string key = "p" + std::to_string(i % 60);
    std::string v = std::to_string(node) + "-" + std::to_string(i);
    if (c.node(node).get("/set?k=" + key + "&v=" + v).status == 200) acked.insert(key);
  }
  // Each side sees the other as unreachable, and the data differs.
  EXPECT_TRUE(
      waitFor([&] { return membersIn(c.node(2).get("/status"), "alive") == 1; }, deadline(10000)));
  EXPECT_NE(pairsOf(c, 0), pairsOf(c, 2));
  c.heal();
  EXPECT_TRUE(waitFor([&] { return allKnowAll(c, 3); }, deadline(15000)));
  EXPECT_TRUE(waitFor([&] { return converged(c); }, deadline(15000)));
  expectSameData(c);
  auto pairs = pairsOf(c, 0);
  std::set<std::string> keys;
  for (const auto& p : pairs) keys.insert(p.substr(0, p.find('=')));
  for (const auto& key : acked) EXPECT_TRUE(keys.count(key)) << key << " was acknowledged, lost";
}

// Fast failure detection and a 3 s tombstone grace period, for the eviction tests.
std::map<std::string, std::string> shortGraceEnv() {
  return {{"TOMBSTONE_GRACE_MS", "3000"},
          {"SUSPICION_TIMEOUT_MS", "1000"},
          {"PROBE_INTERVAL_MS", "200"},
          {"PROBE_TIMEOUT_MS", "150"},
          {"ANTI_ENTROPY_INTERVAL_MS", "500"}};
}

TEST(Mesh, NodeCutOffLongerThanTheGracePeriodIsWipedSoDeletedKeysStayDeleted) {
  // Issue: "a node away longer than the tombstone grace period rejoins empty and re-streams, so
  // deleted keys never come back", here for a node that stays up behind a partition. The
  // majority deletes keys, evicts the cut-off node after the grace period and collects the
  // tombstones; once healed, the cut-off node must be wiped and copy the data again: the
  // deleted keys stay deleted everywhere, and its own late write (newer than the cluster's
  // tombstone horizon) is kept and replicated.
  Cluster c("evict");
  c.commonEnv = shortGraceEnv();
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.addNode(i - 1, {}, /*withProxy=*/true), i);
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 3) && converged(c); }, deadline(10000)));
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(c.node(0).get("/set?k=z" + std::to_string(i) + "&v=1").status, 200);
  ASSERT_TRUE(waitFor([&] { return converged(c); }, deadline(10000)));

  c.partition({{0, 1}, {2}});
  for (int i = 0; i < 10; ++i) ASSERT_EQ(c.node(0).get("/rm?k=z" + std::to_string(i)).status, 200);
  ASSERT_EQ(c.node(2).get("/set?k=early&v=cut-off").status, 200);
  // The majority evicts node 2 (one of them decides, the other learns it by gossip) and drops
  // the ten tombstones; node 2 (alone: a minority) evicts nobody and keeps its view.
  for (int n : {0, 1}) {
    ASSERT_TRUE(waitFor(
        [&] {
          auto s = c.node(n).get("/status");
          return meshArraySize(s, "evicted") == 1 && meshNumber(s, "tombstonesDropped") >= 10;
        },
        deadline(20000)))
        << c.node(n).get("/status").body;
  }
  EXPECT_EQ(meshNumber(c.node(0).get("/status"), "evictions") +
                meshNumber(c.node(1).get("/status"), "evictions"),
            1);
  EXPECT_EQ(meshNumber(c.node(2).get("/status"), "evictions"), 0);
  EXPECT_EQ(meshArraySize(c.node(2).get("/status"), "held"), 2);
  EXPECT_EQ(c.node(2).get("/get?k=z0").body, "\"1\"");  // the deleted value, still there
  ASSERT_EQ(c.node(2).get("/set?k=late&v=cut-off").status, 200);

  c.heal();
  ASSERT_TRUE(
      waitFor([&] { return meshNumber(c.node(2).get("/status"), "wipes") == 1; }, deadline(15000)))
      << c.node(2).get("/status").body;
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 3) && converged(c); }, deadline(20000)))
      << c.node(2).get("/status").body;
  expectSameData(c);
  for (int n = 0; n < 3; ++n) {
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(c.node(n).get("/get?k=z" + std::to_string(i)).status, 404)
          << "z" << i << " came back on node " << n;
    }
    EXPECT_EQ(c.node(n).get("/get?k=z15").body, "\"1\"");
    EXPECT_EQ(c.node(n).get("/get?k=late").body, "\"cut-off\"") << "node " << n;
  }
  // The early write is older than the horizon: dropped, and counted.
  auto s2 = c.node(2).get("/status");
  EXPECT_GE(meshNumber(s2, "preservedKept"), 1) << s2.body;
  EXPECT_EQ(c.node(0).get("/get?k=early").status, 404);
  EXPECT_GE(meshNumber(s2, "preservedDropped"), 1) << s2.body;
}

TEST(Mesh, OnAnEvenSplitOnlyOneSideEvictsTheOther) {
  // 2 | 2 for longer than the grace period: if both sides evicted each other, both would wipe
  // and the data would be gone. Only the side holding the smallest node id evicts.
  Cluster c("evenSplit");
  c.commonEnv = shortGraceEnv();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(c.addNode(i - 1, {}, /*withProxy=*/true), i);
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 4) && converged(c); }, deadline(15000)));
  ASSERT_EQ(c.node(0).get("/set?k=gone&v=1").status, 200);
  ASSERT_TRUE(waitFor([&] { return converged(c); }, deadline(10000)));
  c.partition({{0, 1}, {2, 3}});
  ASSERT_EQ(c.node(0).get("/rm?k=gone").status, 200);
  ASSERT_TRUE(waitFor(
      [&] {
        auto s = c.node(1).get("/status");
        return meshArraySize(s, "evicted") == 2 && meshNumber(s, "tombstonesDropped") >= 1;
      },
      deadline(20000)))
      << c.node(1).get("/status").body;
  for (int n : {2, 3}) {
    auto s = c.node(n).get("/status");
    EXPECT_EQ(meshArraySize(s, "evicted"), 0) << s.body;
    EXPECT_EQ(meshArraySize(s, "held"), 2) << s.body;
  }
  ASSERT_EQ(c.node(3).get("/set?k=late&v=minority").status, 200);
  c.heal();
  ASSERT_TRUE(waitFor(
      [&] {
        return meshNumber(c.node(2).get("/status"), "wipes") == 1 &&
               meshNumber(c.node(3).get("/status"), "wipes") == 1;
      },
      deadline(15000)));
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 4) && converged(c); }, deadline(20000)));
  EXPECT_EQ(meshNumber(c.node(0).get("/status"), "wipes"), 0);
  EXPECT_EQ(meshNumber(c.node(1).get("/status"), "wipes"), 0);
  expectSameData(c);
  for (int n = 0; n < 4; ++n) {
    EXPECT_EQ(c.node(n).get("/get?k=gone").status, 404) << "node " << n;
    EXPECT_EQ(c.node(n).get("/get?k=late").body, "\"minority\"") << "node " << n;
  }
}

TEST(Mesh, WriteConcernAllTimesOutWhenAPeerIsUnreachable) {
  Cluster c("wall");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(
        c.addNode(i - 1, {{"REPLICATION_TIMEOUT_MS", "300"}, {"SUSPICION_TIMEOUT_MS", "60000"}},
                  true),
        i);
  }
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 3) && converged(c); }, deadline(10000)));
  // The answer of a w=all write means every node has it at that moment, so each is read once,
  // without polling; w=quorum: two of the three. (On loopback replication takes well under a
  // millisecond, so these reads would rarely catch an ignored w: the 504s below do.)
  ASSERT_EQ(c.node(0).get("/set?k=a&v=1&w=all").status, 200);
  for (int n : {1, 2}) EXPECT_EQ(c.node(n).get("/get?k=a").body, "\"1\"") << "node " << n;
  ASSERT_EQ(c.node(1).get("/set?k=b&v=1&w=quorum").status, 200);
  int have = 0;
  for (int n : {0, 1, 2}) have += c.node(n).get("/get?k=b").status == 200 ? 1 : 0;
  EXPECT_GE(have, 2);
  c.partition({{0, 1}, {2}});
  auto r = c.node(0).get("/set?k=a&v=2&w=all");
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_NE(r.body.find("\"error\":\"REPLICATION_TIMEOUT\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"acked\":2"), std::string::npos) << r.body;
  // The write is still applied locally, and a quorum is still reachable.
  EXPECT_EQ(c.node(0).get("/get?k=a").body, "\"2\"");
  EXPECT_EQ(c.node(0).get("/set?k=q&v=1&w=quorum").status, 200);
  // Node 0 cut off from both others: no quorum.
  c.partition({{0}, {1}, {2}});
  r = c.node(0).get("/set?k=q&v=2&w=quorum");
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_NE(r.body.find("\"acked\":1"), std::string::npos) << r.body;
  c.heal();
  EXPECT_TRUE(waitFor([&] { return c.node(2).get("/get?k=a").body == "\"2\""; }, deadline(15000)));
}

TEST(Mesh, WrongSecretIsRefused) {
  Cluster c("secret");
  c.commonEnv["MESH_SECRET"] = "right";
  ASSERT_EQ(c.addNode(-1), 0);
  ASSERT_EQ(c.addNode(0, {{"MESH_SECRET", "wrong"}}), 1);
  ASSERT_EQ(c.addNode(0), 2);
  EXPECT_TRUE(
      waitFor([&] { return membersIn(c.node(2).get("/status"), "alive") == 2; }, deadline(10000)));
  ASSERT_EQ(c.node(0).get("/set?k=s&v=1").status, 200);
  EXPECT_TRUE(waitFor([&] { return c.node(2).get("/get?k=s").body == "\"1\""; }, 5000));
  // The node with the wrong secret never gets in, and never gets data.
  EXPECT_EQ(c.node(1).get("/get?k=s").status, 404);
  auto s0 = c.node(0).get("/status");
  EXPECT_EQ(membersIn(s0, "alive"), 2) << s0.body;
  // Unsigned internal requests are refused.
  auto r = httpPost(c.node(0).url() + "/_mesh/replicate", "garbage", {});
  EXPECT_EQ(r.status, 401);
}

TEST(Mesh, CorruptBatchIsRefusedAndNothingApplied) {
  Cluster c("corrupt");
  ASSERT_EQ(c.addNode(-1), 0);
  ASSERT_TRUE(waitFor([&] { return statusReady(c.node(0).get("/status")); }, deadline(10000)));
  auto r = httpPost(c.node(0).url() + "/_mesh/replicate", std::string("MKV1\x01\x01", 6), {});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(c.node(0).get("/getAll").body, "[]");
}

TEST(Mesh, RecordsFromAPeerMustFitThisNodesLimits) {
  // An open mesh: anyone may post a batch. Its records pass the rules of this node's API,
  // MAX_KEY_LENGTH included: a 20-character key is fine for a peer with the default 64, not here.
  Cluster c("limits");
  c.commonEnv["MAX_KEY_LENGTH"] = "16";
  ASSERT_EQ(c.addNode(-1), 0);
  ASSERT_TRUE(waitFor([&] { return statusReady(c.node(0).get("/status")); }, deadline(10000)));
  uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  auto batch = [&](uint64_t seq, bool withLongKey) {
    db::wire::FrameWriter w(db::wire::FrameType::kBatch);
    w.setSeq(seq);
    w.add(db::Mutation::Kind::kPut, "from-peer", "1", db::Hlc::pack(now, 0), "forger");
    if (withLongKey) {
      w.add(db::Mutation::Kind::kPut, std::string(20, 'k'), "1", db::Hlc::pack(now, 0), "forger");
    }
    return w.finish();
  };
  const std::vector<std::string> headers = {"X-Mesh-From: forger",
                                            "Content-Type: application/octet-stream"};
  auto r = httpPost(c.node(0).url() + "/_mesh/replicate", batch(1, true), headers);
  EXPECT_EQ(r.status, 200) << "acknowledged, so a real sender's stream would go on";
  EXPECT_NE(r.body.find("\"refused\":\"INVALID_RECORD\""), std::string::npos) << r.body;
  EXPECT_EQ(c.node(0).get("/getKeys").body, "[]") << "nothing of the batch was stored";
  auto s = c.node(0).get("/status");
  EXPECT_EQ(meshNumber(s, "framesRefused"), 1) << s.body;
  EXPECT_EQ(meshNumber(s, "recordsRefused"), 1) << s.body;
  r = httpPost(c.node(0).url() + "/_mesh/replicate", batch(2, false), headers);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(c.node(0).get("/get?k=from-peer").body, "\"1\"");
}

TEST(Mesh, GracefulLeaveIsAnnounced) {
  Cluster c("leave");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.addNode(i - 1), i);
  ASSERT_TRUE(waitFor([&] { return allKnowAll(c, 3); }, deadline(10000)));
  EXPECT_EQ(c.node(2).terminate(), 0);
  // Left right away (announced), not dead after a suspicion timeout.
  EXPECT_TRUE(waitFor([&] { return membersIn(c.node(0).get("/status"), "left") == 1; }, 3000));
  EXPECT_EQ(membersIn(c.node(1).get("/status"), "alive"), 2);
}

}  // namespace
}  // namespace meshtest
