// Expiring keys across the mesh (docs/ttl.md): a record set with a ttl on one node expires on
// every node at the same moment without a delete (the record carries its absolute expiry); a
// node restarted on its DATA_DIR after the expiry never serves it; /persist replicates like any
// write. Real meshkv-node processes on loopback sharing one wall clock, so once one node says a
// key expired, every other node must say so too. Every wait polls a condition with a deadline;
// a "not yet expired" check waits for a control key set just after it to expire instead.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

#include "tests/mesh/harness.h"

namespace meshtest {
namespace {

int deadline(int ms) {
  return sanitized() ? ms * 3 : ms;
}

// A number under "expiry" in /status; -1 when absent.
long long expiryNumber(const HttpResult& r, const char* field) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("expiry")) return -1;
  const auto& e = d["expiry"];
  if (!e.IsObject() || !e.HasMember(field) || !e[field].IsNumber()) return -1;
  return e[field].GetInt64();
}

// Tombstones of the default collection in /status.
long long defaultTombstones(const HttpResult& r) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("collections")) return -1;
  for (const auto& c : d["collections"].GetArray()) {
    if (std::string(c["name"].GetString()).empty()) return c["tombstones"].GetInt64();
  }
  return -1;
}

std::vector<std::string> allOf(NodeProcess& n) {
  bool ok = false;
  auto p = allPairs(n.get("/getAll"), &ok);
  EXPECT_TRUE(ok);
  return p;
}

TEST(MeshTtl, AKeyExpiresOnEveryNodeAtTheSameMomentWithoutADelete) {
  Cluster c("ttl-expire");
  // The default settings (a 10-minute grace period): with no member gone lately, an expired
  // record is dropped as soon as every node has it, not on the tombstones' schedule.
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.addNode(i - 1), i);
  ASSERT_EQ(c.node(0).get("/set?k=plain&v=p").status, 200);
  ASSERT_EQ(c.node(0).get("/set?k=t&v=1&ttl=2").status, 200);
  for (int i = 1; i < 3; ++i) {
    ASSERT_TRUE(waitFor([&] { return c.node(i).get("/get?k=t").status == 200; }, deadline(5000)))
        << "node " << i << " never got the record";
  }
  auto ttl = c.node(2).get("/ttl?k=t");
  EXPECT_TRUE(ttl.body == "{\"key\":\"t\",\"ttl\":2}" || ttl.body == "{\"key\":\"t\",\"ttl\":1}")
      << ttl.body;
  // One clock for all three: the moment node 0 says it expired, the others say so as well.
  ASSERT_TRUE(waitFor([&] { return c.node(0).get("/get?k=t").status == 404; }, deadline(10000)));
  for (int i = 1; i < 3; ++i) {
    SCOPED_TRACE("node " + std::to_string(i));
    EXPECT_EQ(c.node(i).get("/get?k=t").status, 404);
    EXPECT_EQ(c.node(i).get("/is?k=t").status, 404);
    EXPECT_EQ(c.node(i).get("/ttl?k=t").status, 404);
    EXPECT_EQ(allOf(c.node(i)), std::vector<std::string>{"plain=p"});
  }
  // Each node drops it on its own (its sweep), and nobody wrote a delete.
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE("node " + std::to_string(i));
    EXPECT_TRUE(waitFor([&] { return expiryNumber(c.node(i).get("/status"), "expired") == 1; },
                        deadline(15000)))
        << c.node(i).get("/status").body;
    EXPECT_EQ(defaultTombstones(c.node(i).get("/status")), 0);
  }
}

TEST(MeshTtl, ANodeRestartedAfterTheExpiryNeverServesTheKey) {
  Cluster c("ttl-restart");
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(c.addNode(i == 0 ? -1 : 0, {{"DATA_DIR", c.dataDir(i)}}), i);
  }
  ASSERT_EQ(c.node(0).get("/set?k=plain&v=p").status, 200);
  ASSERT_EQ(c.node(0).get("/set?k=t&v=1&ttl=1&w=all").status, 200);
  ASSERT_EQ(c.node(1).get("/get?k=t").status, 200);
  ASSERT_EQ(c.node(1).terminate(), 0);
  ASSERT_TRUE(waitFor([&] { return c.node(0).get("/get?k=t").status == 404; }, deadline(10000)));
  ASSERT_TRUE(c.restart(1, 0));
  // From its first answer on, whatever its catch-up is doing.
  EXPECT_EQ(c.node(1).get("/get?k=t").status, 404);
  EXPECT_EQ(c.node(1).get("/ttl?k=t").status, 404);
  EXPECT_EQ(allOf(c.node(1)), std::vector<std::string>{"plain=p"});
  ASSERT_TRUE(waitFor([&] { return statusReady(c.node(1).get("/status")); }, deadline(20000)));
  EXPECT_EQ(c.node(1).get("/get?k=t").status, 404);
  EXPECT_EQ(c.node(1).get("/get?k=plain").body, "\"p\"");
}

// A member that left (it holds nothing for the others) and comes back within the grace period
// with an older value of a key whose newer, expiring version it never saw: the others must still
// hold that expired version (for the grace period after a member event such as a leave, expired
// records go on the tombstones' schedule), so the returning node's old value loses by LWW
// instead of coming back.
TEST(MeshTtl, AnOlderValueOnANodeThatWasAwayDoesNotComeBackAfterTheExpiry) {
  Cluster c("ttl-away");
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.addNode(i == 0 ? -1 : 0, {{"DATA_DIR", c.dataDir(i)}}), i);
  }
  ASSERT_EQ(c.node(0).get("/set?k=k&v=old&w=all").status, 200);
  ASSERT_EQ(c.node(2).terminate(), 0);  // it leaves with k=old on its disk
  ASSERT_EQ(c.node(0).get("/set?k=k&v=new&ttl=1&w=all").status, 200);
  ASSERT_TRUE(waitFor([&] { return c.node(1).get("/get?k=k").status == 404; }, deadline(10000)));
  // Expired on both, and many collection passes later (one before each anti-entropy round, every
  // 500 ms here: 16 of them outlast the expiry lag of a quiet cluster) still held for node 2,
  // which left: without that hold they drop it.
  for (int i = 0; i < 2; ++i) {
    long long rounds = meshNumber(c.node(i).get("/status"), "antiEntropyRounds");
    ASSERT_GE(rounds, 0);
    ASSERT_TRUE(waitFor(
        [&] { return meshNumber(c.node(i).get("/status"), "antiEntropyRounds") >= rounds + 16; },
        deadline(20000)));
  }
  for (int i = 0; i < 2; ++i) {
    auto st = c.node(i).get("/status");
    EXPECT_EQ(expiryNumber(st, "expired"), 0) << "node " << i;
    EXPECT_NE(st.body.find("\"expiryHeld\":[{"), std::string::npos) << st.body;
  }
  ASSERT_TRUE(c.restart(2, 0));
  ASSERT_TRUE(waitFor([&] { return statusReady(c.node(2).get("/status")); }, deadline(20000)));
  // Its catch-up compared its recovered data with node 0: nobody serves the old value.
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE("node " + std::to_string(i));
    EXPECT_EQ(c.node(i).get("/get?k=k").status, 404);
    EXPECT_EQ(allOf(c.node(i)), std::vector<std::string>{});
  }
}

TEST(MeshTtl, PersistReplicatesLikeAnyWrite) {
  Cluster c("ttl-persist");
  for (int i = 0; i < 2; ++i) ASSERT_EQ(c.addNode(i - 1), i);
  ASSERT_EQ(c.node(0).get("/set?k=kept&v=1&ttl=2").status, 200);
  ASSERT_EQ(c.node(0).get("/set?k=control&v=1&ttl=2").status, 200);  // expires just after
  ASSERT_TRUE(waitFor([&] { return c.node(1).get("/get?k=kept").status == 200; }, deadline(5000)));
  auto p = c.node(1).get("/persist?k=kept&w=all");
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_EQ(p.body, "{\"key\":\"kept\",\"persisted\":true}");
  EXPECT_EQ(c.node(0).get("/ttl?k=kept").body, "{\"key\":\"kept\",\"ttl\":-1}");
  // Again: nothing to remove, nothing written.
  EXPECT_EQ(c.node(1).get("/persist?k=kept").body, "{\"key\":\"kept\",\"persisted\":false}");
  ASSERT_TRUE(
      waitFor([&] { return c.node(0).get("/get?k=control").status == 404; }, deadline(10000)));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(c.node(i).get("/get?k=kept").body, "\"1\"") << "node " << i;
    EXPECT_EQ(c.node(i).get("/get?k=control").status, 404) << "node " << i;
  }
}

}  // namespace
}  // namespace meshtest
