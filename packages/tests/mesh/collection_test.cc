// Collections across the mesh (docs/collections.md): a clear of one collection leaves the others
// untouched on every node, including a node that was away (cut off by a partition, or killed and
// restarted) and catches up later through anti-entropy or a snapshot. Real meshkv-node processes
// on loopback; every wait polls a condition with a deadline.
#include <gtest/gtest.h>

#include <set>

#include "tests/mesh/harness.h"

namespace meshtest {
namespace {

int deadline(int ms) {
  return sanitized() ? ms * 3 : ms;
}

bool converged(Cluster& c) {
  std::set<std::string> digests;
  for (int i = 0; i < c.size(); ++i) {
    auto s = c.node(i).get("/status");
    if (!statusReady(s)) return false;
    std::string d = statusDigest(s);
    if (d.empty()) return false;
    digests.insert(d);
  }
  return digests.size() == 1;
}

std::vector<std::string> pairs(Cluster& c, int i, const std::string& collection) {
  bool ok = false;
  auto r = c.node(i).get(collection.empty() ? "/getAll" : "/getAll?c=" + collection, 30000);
  auto p = allPairs(r, &ok);
  EXPECT_TRUE(ok) << "node " << i << " " << collection << ": " << r.body.substr(0, 200);
  return p;
}

bool set(Cluster& c, int node, const std::string& collection, const std::string& k,
         const std::string& v) {
  std::string q = "/set?k=" + k + "&v=" + v + (collection.empty() ? "" : "&c=" + collection);
  return c.node(node).get(q).status == 200;
}

// Writes 20 records in the default collection, `users` and `orders`, and waits until every node
// has them.
void seed(Cluster& c) {
  for (int i = 0; i < 20; ++i) {
    std::string k = "k" + std::to_string(i);
    ASSERT_TRUE(set(c, i % c.size(), "", k, "d"));
    ASSERT_TRUE(set(c, i % c.size(), "users", k, "u"));
    ASSERT_TRUE(set(c, i % c.size(), "orders", k, "o"));
  }
  ASSERT_TRUE(waitFor([&] { return converged(c); }, deadline(15000)));
}

// Every node holds exactly the expected state: users = {after}, orders = 20 + extra, default 20.
void expectClearedUsersOnly(Cluster& c, size_t extraOrders) {
  for (int i = 0; i < c.size(); ++i) {
    SCOPED_TRACE("node " + std::to_string(i));
    EXPECT_EQ(pairs(c, i, "users"), std::vector<std::string>({"after=u2"}));
    EXPECT_EQ(pairs(c, i, "orders").size(), 20u + extraOrders);
    EXPECT_EQ(pairs(c, i, "").size(), 20u);
    EXPECT_EQ(c.node(i).get("/get?c=orders&k=k1").body, "\"changed\"");
  }
}

TEST(MeshCollections, ANodeCutOffDuringACollectionClearCatchesUpAndKeepsTheOthers) {
  Cluster c("coll-partition");
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(c.addNode(i - 1, {{"ANTI_ENTROPY_INTERVAL_MS", "500"}}, true), i);
  seed(c);
  c.partition({{0, 1}, {2}});
  EXPECT_TRUE(
      waitFor([&] { return membersIn(c.node(2).get("/status"), "alive") == 1; }, deadline(10000)));
  // Node 2 is away: node 0 clears `users`, then writes after the clear; node 2 writes to
  // `orders` meanwhile (which the clear of `users` must not touch).
  ASSERT_EQ(c.node(0).get("/clear?c=users").status, 200);
  ASSERT_TRUE(set(c, 0, "users", "after", "u2"));
  ASSERT_TRUE(set(c, 1, "orders", "k1", "changed"));
  ASSERT_TRUE(set(c, 2, "orders", "from2", "o2"));
  EXPECT_EQ(pairs(c, 2, "users").size(), 20u);  // it does not know yet
  c.heal();
  ASSERT_TRUE(waitFor([&] { return converged(c); }, deadline(20000)));
  expectClearedUsersOnly(c, 1);
}

TEST(MeshCollections, ANodeRestartedAfterACollectionClearCatchesUpAndKeepsTheOthers) {
  Cluster c("coll-restart");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.addNode(i - 1), i);
  seed(c);
  c.node(2).kill9();
  EXPECT_TRUE(
      waitFor([&] { return membersIn(c.node(0).get("/status"), "dead") == 1; }, deadline(10000)));
  ASSERT_EQ(c.node(0).get("/clear?c=users").status, 200);
  ASSERT_TRUE(set(c, 0, "users", "after", "u2"));
  ASSERT_TRUE(set(c, 1, "orders", "k1", "changed"));
  ASSERT_TRUE(c.restart(2, 0));
  ASSERT_TRUE(waitFor([&] { return converged(c); }, deadline(20000)));
  expectClearedUsersOnly(c, 0);
}

}  // namespace
}  // namespace meshtest
