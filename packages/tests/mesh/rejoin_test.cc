// Black-box tests of durable nodes in the mesh (issue 12): real meshkv-node processes, each with
// its own DATA_DIR. A node stopped (SIGTERM) and restarted on the same directory keeps its data
// and catches up only what it missed, by anti-entropy: the bytes it moves grow with the
// difference, not the data size (measured against the data set's size and reported). A node
// away longer than TOMBSTONE_GRACE_MS instead drops its data and copies a snapshot, so no key
// deleted meanwhile comes back. Every node killed at once (a power cut) comes back ready with
// its data (found by the chaos test). Every wait polls a condition with a deadline.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/mesh/harness.h"

namespace meshtest {
namespace {

int deadline(int ms) {
  return sanitized() ? ms * 3 : ms;
}

std::string key(int i) {
  return "rk" + std::to_string(i);
}

// "catchUpPath" under "mesh" in a /status answer.
bool catchUpPathIs(const HttpResult& r, const std::string& path) {
  return r.body.find("\"catchUpPath\":\"" + path + "\"") != std::string::npos;
}

bool sameDigests(Cluster& c) {
  std::set<std::string> digests;
  for (int i = 0; i < c.size(); ++i) {
    auto s = c.node(i).get("/status");
    if (!statusReady(s) || statusDigest(s).empty()) return false;
    digests.insert(statusDigest(s));
  }
  return digests.size() == 1;
}

std::vector<std::string> pairsOf(Cluster& c, int i) {
  bool ok = false;
  auto r = c.node(i).get("/getAll", 60000);
  auto p = allPairs(r, &ok);
  EXPECT_TRUE(ok) << "node " << i << " /getAll: " << r.status;
  return p;
}

// Writes keys [from, to) with `value`, spread over `nodes` by 4 threads. Returns failures.
int writeRange(Cluster& c, std::vector<int> nodes, int from, int to, const std::string& value) {
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = from + t; i < to; i += 4) {
        int n = nodes[static_cast<size_t>(i) % nodes.size()];
        if (c.node(n).get("/set?k=" + key(i) + "&v=" + value).status != 200) ++failed;
      }
    });
  }
  for (auto& w : writers) w.join();
  return failed;
}

// Three nodes with their own DATA_DIR; node 0 starts the cluster, the others join through it.
void startDurable(Cluster& c) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.addNode(i == 0 ? -1 : 0, {{"DATA_DIR", c.dataDir(i)}}), i);
  }
  ASSERT_TRUE(waitFor([&] { return sameDigests(c); }, deadline(20000)));
}

TEST(MeshRejoin, RestartedNodeKeepsItsDataAndCatchesUpOnlyTheDifference) {
  Cluster c("rejoin");
  c.commonEnv = {{"ANTI_ENTROPY_INTERVAL_MS", "500"}};
  startDurable(c);
  const int n = 20000;
  const std::string value(250, 'v');
  ASSERT_EQ(writeRange(c, {0, 1, 2}, 0, n, value), 0);
  ASSERT_TRUE(waitFor([&] { return sameDigests(c); }, deadline(30000)));

  ASSERT_EQ(c.node(2).terminate(), 0);
  // While it is away: 1 % of the keys change, ten are deleted, a few are new.
  const int changed = n / 100;
  ASSERT_EQ(writeRange(c, {0, 1}, 0, changed, std::string(250, 'w')), 0);
  for (int i = n - 10; i < n; ++i) ASSERT_EQ(c.node(i % 2).get("/rm?k=" + key(i)).status, 200);
  ASSERT_EQ(writeRange(c, {0, 1}, n, n + 20, value), 0);

  ASSERT_TRUE(c.restart(2, 0));
  ASSERT_TRUE(waitFor([&] { return statusReady(c.node(2).get("/status")); }, deadline(30000)))
      << c.node(2).get("/status").body;
  EXPECT_EQ(c.node(2).get("/healthcheck").status, 200);
  auto s = c.node(2).get("/status");
  EXPECT_TRUE(catchUpPathIs(s, "antiEntropy")) << s.body;
  EXPECT_EQ(meshNumber(s, "snapshotRecords"), 0) << "no snapshot copy: " << s.body;
  EXPECT_GE(meshNumber(s, "catchUpRounds"), 1) << s.body;
  // Ready means caught up: what changed while it was away is there already.
  EXPECT_EQ(c.node(2).get("/get?k=" + key(0)).body, "\"" + std::string(250, 'w') + "\"");
  EXPECT_EQ(c.node(2).get("/get?k=" + key(n + 19)).body, "\"" + value + "\"");
  for (int i = n - 10; i < n; ++i) {
    EXPECT_EQ(c.node(2).get("/get?k=" + key(i)).status, 404) << key(i) << " came back";
  }
  ASSERT_TRUE(waitFor([&] { return sameDigests(c); }, deadline(20000)));
  auto ref = pairsOf(c, 0);
  EXPECT_EQ(ref.size(), static_cast<size_t>(n + 10));
  EXPECT_EQ(pairsOf(c, 1), ref);
  EXPECT_EQ(pairsOf(c, 2), ref);

  // Bytes moved by the catch-up vs the data a snapshot copy would have moved (keys + values).
  long long bytes = meshNumber(s, "catchUpBytes");
  double data = 0;
  for (const auto& p : ref) data += static_cast<double>(p.size() - 1);
  double ratio = static_cast<double>(bytes) / data;
  std::printf(
      "rejoin: %d records (%.0f bytes), %d changed + 10 deleted + 20 new while down: "
      "catch-up moved %lld bytes in %lld rounds = %.2f %% of the data\n",
      n, data, changed, bytes, meshNumber(s, "catchUpRounds"), ratio * 100);
  EXPECT_GT(bytes, 0);
  // The 230 changed records (~67 KB) plus the digest and 8 bytes per record of the segments
  // they touch: ~2 % here. Whole differing segments in both directions were ~15 %.
  EXPECT_LT(ratio, 0.05) << s.body;
  EXPECT_EQ(meshNumber(s, "catchUpRounds"), 1) << "one round converges what it compared";
}

TEST(MeshRejoin, NodeAwayLongerThanTheGracePeriodDropsItsDataAndDeletedKeysStayDeleted) {
  Cluster c("rejoinold");
  // A grace period longer than the margin the age check adds (the 500 ms clock drift plus the
  // 5 s request timeout), so the node is judged by its data's age: with 3 s, any data, even
  // data a second old, was "too old", and a node that judged its data by the clock after
  // replay (always "now") passed this test.
  c.commonEnv = {{"TOMBSTONE_GRACE_MS", "7000"},
                 {"SUSPICION_TIMEOUT_MS", "1000"},
                 {"PROBE_INTERVAL_MS", "200"},
                 {"PROBE_TIMEOUT_MS", "150"},
                 {"ANTI_ENTROPY_INTERVAL_MS", "500"}};
  startDurable(c);
  const int n = 300;
  ASSERT_EQ(writeRange(c, {0, 1, 2}, 0, n, "1"), 0);
  ASSERT_TRUE(waitFor([&] { return sameDigests(c); }, deadline(20000)));

  ASSERT_EQ(c.node(2).terminate(), 0);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(c.node(i % 2).get("/rm?k=" + key(i)).status, 200);
  // The survivors collect those tombstones once the grace period passed: node 2's data still
  // holds the deleted keys, and nobody remembers they were deleted.
  for (int m : {0, 1}) {
    ASSERT_TRUE(
        waitFor([&] { return meshNumber(c.node(m).get("/status"), "tombstonesDropped") >= 10; },
                deadline(40000)))
        << c.node(m).get("/status").body;
  }

  ASSERT_TRUE(c.restart(2, 0));
  ASSERT_TRUE(waitFor([&] { return statusReady(c.node(2).get("/status")); }, deadline(30000)))
      << c.node(2).get("/status").body;
  auto s = c.node(2).get("/status");
  EXPECT_TRUE(catchUpPathIs(s, "tooOld")) << s.body;
  EXPECT_GT(meshNumber(s, "snapshotRecords"), 0) << s.body;
  ASSERT_TRUE(waitFor([&] { return sameDigests(c); }, deadline(20000)));
  auto ref = pairsOf(c, 0);
  EXPECT_EQ(ref.size(), static_cast<size_t>(n - 10));
  EXPECT_EQ(pairsOf(c, 1), ref);
  EXPECT_EQ(pairsOf(c, 2), ref);
  for (int m = 0; m < 3; ++m) {
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(c.node(m).get("/get?k=" + key(i)).status, 404)
          << key(i) << " came back on node " << m;
    }
  }
}

// Found by the chaos test: after every node was killed at once, each restarted on its data and
// wanted to catch up by anti-entropy from a peer, and every peer (not ready either) refused the
// repair its round pushed: no node ever became ready. Nodes behind proxies keep their mesh URLs
// across restarts, and a slow join retry makes all three join each other while none is ready.
TEST(MeshRejoin, EveryNodeKilledAtOnceComesBackReadyWithItsData) {
  Cluster c("rejoin-all");
  c.commonEnv["JOIN_RETRY_MS"] = "1000";
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.addNode(i == 0 ? -1 : 0, {{"DATA_DIR", c.dataDir(i)}, {"FSYNC", "always"}}, true),
              i);
  }
  ASSERT_TRUE(waitFor([&] { return sameDigests(c); }, deadline(20000)));
  const int n = 300;
  ASSERT_EQ(writeRange(c, {0, 1, 2}, 0, n, "v1"), 0);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(c.node(i % 3).get("/rm?k=" + key(i)).status, 200);
  ASSERT_TRUE(waitFor([&] { return sameDigests(c); }, deadline(20000)));
  // The stores differ when the power goes (writes in flight): each node, cut off from the
  // others, holds 50 keys no other node has, so every catch-up round has records to push.
  c.partition({{0}, {1}, {2}});
  for (int i = 0; i < 3; ++i) ASSERT_EQ(writeRange(c, {i}, n + 50 * i, n + 50 * (i + 1), "v2"), 0);

  for (int i = 0; i < 3; ++i) c.node(i).kill9();
  c.heal();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.restart(i, (i + 1) % 3)) << c.node(i).logPath();
  ASSERT_TRUE(waitFor([&] { return sameDigests(c); }, deadline(20000)))
      << c.node(0).get("/status").body;
  auto ref = pairsOf(c, 0);
  EXPECT_EQ(ref.size(), static_cast<size_t>(n - 10 + 150));
  EXPECT_EQ(pairsOf(c, 1), ref);
  EXPECT_EQ(pairsOf(c, 2), ref);
  for (int m = 0; m < 3; ++m) {
    auto s = c.node(m).get("/status");
    EXPECT_TRUE(catchUpPathIs(s, "antiEntropy")) << s.body;
    EXPECT_EQ(c.node(m).get("/get?k=" + key(0)).status, 404) << "a deleted key came back";
  }
}

}  // namespace
}  // namespace meshtest
