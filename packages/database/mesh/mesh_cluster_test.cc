// In-process tests of MeshCluster: several nodes (Keyspace + Server + MeshCluster) on ONE libuv
// loop driven by the test thread, talking over real loopback sockets. They cover joining,
// streaming (one batch per loop turn), write concerns, snapshot catch-up, anti-entropy repair,
// refusal of corrupt or unsigned batches, and a property test: the same batches, snapshot pages
// and repairs applied in random orders, repeated, give identical stores. Every test ends with
// every node left, every server closed and the loop closing cleanly.
#include "database/mesh/mesh_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "common/http/client.h"
#include "database/mesh/store_bridge.h"
#include "database/mesh/testing/mesh_fixture.h"
#include "database/mesh/wire.h"

namespace db {
namespace {

using testing::TestNode;

class MeshClusterTest : public testing::MeshFixture {
 protected:
  // One anti-entropy round of `n` with `peer`; its outcome. A node refuses at once to start a
  // round while one of its own runs, and one may start by itself: n met the peer while serving,
  // so it repairs with it eagerly at the first gossip after the peer is ready, whose timing the
  // test does not control. Then wait for that round to end and ask again.
  bool roundWith(TestNode& n, const std::string& peer) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      bool done = false, ok = false;
      uint64_t rounds = n.mesh->antiEntropyRounds();
      n.mesh->antiEntropyWith(peer, [&](bool o) {
        done = true;
        ok = o;
      });
      if (done && !ok) {  // refused: wait for the running round (an unknown peer never ends)
        if (!runUntil([&] { return n.mesh->antiEntropyRounds() > rounds; }, 5000)) return false;
        continue;
      }
      return runUntil([&] { return done; }, 5000) && ok;
    }
    return false;
  }
};

TEST_F(MeshClusterTest, ChainJoinStreamsWritesAndConverges) {
  auto& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  auto& n2 = addNode(n1.url());
  auto& n3 = addNode(n2.url());
  ASSERT_TRUE(runUntil([&] { return allAlive(3); }, 5000));
  for (int i = 0; i < 300; ++i)
    write(*nodes_[i % 3], "k" + std::to_string(i % 100), "v" + std::to_string(i));
  ASSERT_TRUE(runUntil([&] { return sameRoots(); }, 5000));
  EXPECT_EQ(n1.keyspace->size(), 100u);
  EXPECT_EQ(n3.keyspace->size(), 100u);
  // Deletes and a clear replicate too.
  n2.write(*n2.keyspace->remove("k1"));
  ASSERT_TRUE(runUntil([&] { return !n3.keyspace->contains("k1"); }, 5000));
  Mutation clear = n3.keyspace->clear();
  n3.write(clear);
  // A write made on n1 after n1 saw the clear (causally later) survives it everywhere.
  ASSERT_TRUE(runUntil([&] { return n1.keyspace->clearMarkHlc() == clear.hlc; }, 5000));
  write(n1, "after", "clear");
  ASSERT_TRUE(runUntil([&] { return sameRoots() && n2.keyspace->size() <= 1; }, 5000));
  EXPECT_TRUE(n2.keyspace->contains("after"));
}

TEST_F(MeshClusterTest, NodeWithoutAJoinUrlIsReadyAtOnceAndOthersJoinIt) {
  auto& n1 = addNode("");
  EXPECT_TRUE(n1.mesh->ready()) << "nobody to join: ready when start() returns";
  std::string status;
  n1.mesh->appendStatus(status);
  EXPECT_NE(status.find("\"phase\":\"ready\""), std::string::npos) << status;
  auto& n2 = addNode(n1.url());
  auto& n3 = addNode(n2.url());
  ASSERT_TRUE(runUntil([&] { return allAlive(3); }, 5000));
  write(n3, "k", "v");
  ASSERT_TRUE(runUntil([&] { return n1.keyspace->contains("k"); }, 5000));
}

TEST_F(MeshClusterTest, JoinThatReachesItselfIsRetriedThenStartsAlone) {
  // MESH_NETWORK_URL pointing at the node itself (a balancer that picked the joining node).
  auto n = std::make_unique<TestNode>();
  n->id = "n1";
  n->keyspace = std::make_unique<Keyspace>(makeDefaultKeyspaceOptions(n->id));
  n->server = std::make_unique<common::http::Server>(&loop_, common::http::ServerOptions{});
  ASSERT_EQ(n->server->listen("127.0.0.1", 0), 0);
  MeshOptions o = options("n1", n->url());
  testing::wireMesh(&loop_, *n, o);
  n->mesh->registerRoutes(*n->server);
  n->mesh->start();
  nodes_.push_back(std::move(n));
  TestNode& n1 = *nodes_.back();
  EXPECT_FALSE(n1.mesh->ready());
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  EXPECT_EQ(n1.mesh->membership().liveCount(), 1u) << "it never added itself as a peer";
  std::string status;
  n1.mesh->appendStatus(status);
  EXPECT_NE(status.find("\"members\":[{\"id\":\"n1\""), std::string::npos) << status;
  // A second node joining through n1 is then streamed to, and shows up with its lag.
  auto& n2 = addNode(n1.url());
  ASSERT_TRUE(runUntil([&] { return allAlive(2); }, 5000));
  write(n1, "k", "v");
  ASSERT_TRUE(runUntil([&] { return n2.keyspace->contains("k"); }, 5000));
  // The value can be on n2 before n1 has read n2's ack: wait for the ack, then lag is 0.
  EXPECT_TRUE(runUntil(
      [&] {
        status.clear();
        n1.mesh->appendStatus(status);
        return status.find("\"replicationLagMs\":0") != std::string::npos;
      },
      5000))
      << status;
  EXPECT_NE(status.find("\"state\":\"alive\",\"incarnation\":"), std::string::npos) << status;
}

TEST_F(MeshClusterTest, OneLoopTurnIsOneBatch) {
  auto& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  auto& n2 = addNode(n1.url());
  ASSERT_TRUE(runUntil([&] { return allAlive(2); }, 5000));
  uint64_t before = n1.mesh->batchesSent();
  for (int i = 0; i < 5000; ++i) write(n1, "key" + std::to_string(i), std::string(32, 'x'));
  ASSERT_TRUE(runUntil([&] { return n2.keyspace->size() == 5000; }, 5000));
  EXPECT_EQ(n1.mesh->batchesSent() - before, 1u) << "5000 writes in one turn: one batch";
  EXPECT_TRUE(sameRoots());
}

TEST_F(MeshClusterTest, WriteConcernAllWaitsForEveryLiveNode) {
  auto& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  addNode(n1.url());
  addNode(n1.url());
  ASSERT_TRUE(runUntil([&] { return allAlive(3); }, 5000));
  Ticket all = write(n1, "w", "all");
  int calls = 0;
  bool ok = false;
  int acked = 0;
  auto outcome = [&](const WriteOutcome& o) {
    ++calls;
    ok = o.status.ok();
    acked = o.acked;
  };
  n1.log->await(all, WriteLevel::kAll, outcome);
  ASSERT_TRUE(runUntil([&] { return calls > 0; }, 5000));
  EXPECT_TRUE(ok);
  EXPECT_EQ(acked, 3);
  EXPECT_TRUE(nodes_[1]->keyspace->contains("w"));
  EXPECT_TRUE(nodes_[2]->keyspace->contains("w"));
  // Quorum succeeds once 2 of 3 have it.
  Ticket quorum = write(n1, "w", "quorum");
  calls = 0;
  n1.log->await(quorum, WriteLevel::kQuorum, outcome);
  ASSERT_TRUE(runUntil([&] { return calls > 0; }, 5000));
  EXPECT_TRUE(ok);
  EXPECT_GE(acked, 2);
  runUntil([] { return false; }, 50);
  EXPECT_EQ(calls, 1) << "done runs exactly once";
}

TEST_F(MeshClusterTest, WriteConcernTimesOutWhenAPeerStopsAnswering) {
  auto& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  auto& n2 = addNode(n1.url());
  ASSERT_TRUE(runUntil([&] { return allAlive(2); }, 5000));
  // n2 stops: its server closes (connections refused), the mesh keeps the peer alive until
  // the suspicion timeout, so w=all must time out with acked=1.
  bool n2closed = false;
  n2.server->close([&] { n2closed = true; });
  ASSERT_TRUE(runUntil([&] { return n2closed; }, 5000));
  Ticket t = write(n1, "x", "1");
  int calls = 0;
  bool ok = true;
  int acked = 0;
  n1.log->await(t, WriteLevel::kAll, [&](const WriteOutcome& o) {
    ++calls;
    ok = o.status.ok();
    acked = o.acked;
    EXPECT_EQ(o.status.ok() ? "" : o.status.error().code, "REPLICATION_TIMEOUT");
  });
  ASSERT_TRUE(runUntil([&] { return calls > 0; }, 5000));
  EXPECT_FALSE(ok);
  EXPECT_EQ(acked, 1);
  EXPECT_TRUE(n1.keyspace->contains("x")) << "still applied locally";
  // (n2 still reaches n1 and refutes every suspicion, so it stays a member: SWIM's answer to a
  // one-way failure. The black-box tests kill nodes for real.)
  n2.mesh->leave([&] { n2.log->close([&] { n2.closed = true; }); });
}

TEST_F(MeshClusterTest, NewNodeCopiesASnapshotBeforeItIsReady) {
  auto& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  for (int i = 0; i < 20000; ++i)
    ASSERT_TRUE(n1.keyspace->set("key" + std::to_string(i), std::string(100, 'v')).ok());
  ASSERT_TRUE(n1.keyspace->remove("key7").ok());  // a tombstone travels too
  MeshOptions o = options("n2", n1.url());
  o.snapshotPageBytes = 64 * 1024;  // many pages
  auto& n2 = addNode(n1.url(), &o);
  size_t sizeWhenReady = 0;
  ASSERT_TRUE(runUntil(
      [&] {
        if (n2.mesh->ready()) sizeWhenReady = n2.keyspace->size();
        return n2.mesh->ready();
      },
      10000));
  EXPECT_EQ(sizeWhenReady, 19999u);
  EXPECT_EQ(n2.keyspace->tombstoneCount(), 1u);
  EXPECT_EQ(n2.keyspace->rootHash(), n1.keyspace->rootHash());
}

TEST_F(MeshClusterTest, AntiEntropyRepairsWhatTheStreamMissedAndCostsLittleWhenEqual) {
  auto& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  auto& n2 = addNode(n1.url());
  ASSERT_TRUE(runUntil([&] { return allAlive(2); }, 5000));
  // Writes that never went through the stream (as if a batch was lost), on both sides.
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(n1.keyspace->set("a" + std::to_string(i), "1").ok());
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(n2.keyspace->set("b" + std::to_string(i), "2").ok());
  ASSERT_TRUE(n2.keyspace->set("a1", "newer on n2").ok());
  ASSERT_NE(n1.keyspace->rootHash(), n2.keyspace->rootHash());
  ASSERT_TRUE(roundWith(n1, "n2"));
  EXPECT_EQ(n1.keyspace->rootHash(), n2.keyspace->rootHash());
  EXPECT_EQ(n1.keyspace->size(), 1000u);
  EXPECT_EQ(n1.keyspace->get("a1").value_or(""), "newer on n2");
  // A round between equal nodes sends a few bytes.
  ASSERT_TRUE(roundWith(n1, "n2"));
  EXPECT_LT(n1.mesh->antiEntropyBytes(), 64u);
}

TEST_F(MeshClusterTest, CorruptAndUnsignedBatchesAreRefusedWithNothingApplied) {
  auto& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  common::http::Client client(&loop_);
  wire::FrameWriter w(wire::FrameType::kBatch);
  w.setSeq(1);
  w.add(Mutation::Kind::kPut, "evil", "1", Hlc::pack(1, 0), "x");
  w.add(Mutation::Kind::kPut, "evil2", "1", Hlc::pack(1, 0), "x");
  std::string good = w.finish();
  std::string truncated = good.substr(0, good.size() - 3);
  MeshAuth auth(secret_, 60000);
  auto send = [&](std::string body, bool sign) {
    common::http::ClientRequest req;
    req.method = "POST";
    req.url = n1.url() + "/_mesh/replicate";
    uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    if (sign)
      req.headers.push_back("X-Mesh-Auth: " +
                            auth.sign("POST", "/_mesh/replicate", "", body, now, "1"));
    req.body = std::move(body);
    long status = -1;
    client.send(std::move(req), [&](common::http::ClientResponse&& r) { status = r.status; });
    EXPECT_TRUE(runUntil([&] { return status != -1; }, 5000));
    return status;
  };
  EXPECT_EQ(send(truncated, true), 400);
  std::string flipped = good;
  flipped[30] ^= 1;
  EXPECT_EQ(send(flipped, true), 400);
  EXPECT_EQ(send(good, false), 401);
  EXPECT_EQ(n1.keyspace->size(), 0u);
  EXPECT_EQ(send(good, true), 200);
  EXPECT_EQ(n1.keyspace->size(), 2u);
  bool closed = false;
  client.close([&] { closed = true; });
  ASSERT_TRUE(runUntil([&] { return closed; }, 5000));
}

TEST_F(MeshClusterTest, TombstonesAreDroppedOnlyOnceEveryLivePeerHasThem) {
  MeshOptions o1 = options("n1", "http://127.0.0.1:1");
  o1.tombstoneGraceMs = 0;
  auto& n1 = addNode("", &o1);
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  MeshOptions o2 = options("n2", n1.url());
  o2.tombstoneGraceMs = 0;
  auto& n2 = addNode("", &o2);
  MeshOptions o3 = options("n3", n1.url());
  o3.tombstoneGraceMs = 0;
  o3.suspicionTimeoutMs = 60000;
  auto& n3 = addNode("", &o3);
  ASSERT_TRUE(runUntil([&] { return allAlive(3); }, 5000));
  write(n1, "gone", "soon");
  ASSERT_TRUE(runUntil([&] { return n3.keyspace->contains("gone"); }, 5000));
  // n3 stops answering (its server closes) but is not declared dead: n1 must keep the tombstone
  // it cannot prove n3 has.
  bool closed3 = false;
  n3.server->close([&] { closed3 = true; });
  ASSERT_TRUE(runUntil([&] { return closed3; }, 5000));
  n1.write(*n1.keyspace->remove("gone"));
  ASSERT_TRUE(runUntil([&] { return n2.keyspace->tombstoneCount() == 1; }, 5000));
  runUntil([] { return false; }, 1000);  // several GC passes
  EXPECT_EQ(n1.keyspace->tombstoneCount(), 1u);
  EXPECT_EQ(n2.keyspace->tombstoneCount(), 1u);
  n3.mesh->leave([&] { n3.log->close([&] { n3.closed = true; }); });
  // n3 left: every live node has the tombstone, so both drop it.
  EXPECT_TRUE(runUntil(
      [&] { return n1.keyspace->tombstoneCount() == 0 && n2.keyspace->tombstoneCount() == 0; },
      5000));
  EXPECT_FALSE(n2.keyspace->contains("gone"));
}

TEST_F(MeshClusterTest, ExpiredRecordsGoSoonInAQuietClusterAndLateForAGracePeriodAfterALeave) {
  // docs/ttl.md: in a quiet cluster an expired record may be dropped once every live member has
  // had it for the expiry lag (seconds), not a grace period later like a tombstone; for the
  // grace period after a member event (here a leave) only on the tombstones' schedule, on every
  // node, including one that joins after the event (the holds are gossiped).
  constexpr uint64_t kGraceMs = 8000;
  auto opts = [&](const char* id, const std::string& join) {
    MeshOptions o = options(id, join);
    o.tombstoneGraceMs = kGraceMs;
    return o;
  };
  MeshOptions o1 = opts("n1", "http://127.0.0.1:1");
  auto& n1 = addNode("", &o1);
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  MeshOptions o2 = opts("n2", n1.url());
  auto& n2 = addNode("", &o2);
  MeshOptions o3 = opts("n3", n1.url());
  auto& n3 = addNode("", &o3);
  ASSERT_TRUE(runUntil([&] { return allAlive(3); }, 5000));
  auto status = [](TestNode& n) {
    std::string s;
    n.mesh->appendStatus(s);
    return s;
  };
  EXPECT_NE(status(n1).find("\"expiryHeld\":[]"), std::string::npos) << "joins are no event";
  auto since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t)
        .count();
  };
  auto t0 = std::chrono::steady_clock::now();
  Mutation first = *n1.keyspace->set("first", "1");
  n1.write(first);
  ASSERT_TRUE(runUntil(
      [&] {
        return n1.keyspace->expiryHorizon() > first.hlc && n2.keyspace->expiryHorizon() > first.hlc;
      },
      static_cast<int>(kGraceMs)));
  EXPECT_LT(since(t0), static_cast<long long>(kGraceMs)) << "not on the tombstones' schedule";

  auto left = std::chrono::steady_clock::now();  // the holds start after this
  closeNode(n3);                                 // it leaves: it may come back with old values
  ASSERT_TRUE(runUntil([&] { return n3.closed && n1.mesh->membership().liveCount() == 2; }, 5000));
  Mutation second = *n1.keyspace->set("second", "2");
  n1.write(second);
  ASSERT_TRUE(runUntil([&] { return n2.keyspace->contains("second"); }, 5000));
  EXPECT_NE(status(n1).find("\"expiryHeld\":[{\"id\":\"n3\""), std::string::npos) << status(n1);
  // A node that joins now learns of the hold from the others' gossip.
  MeshOptions o4 = opts("n4", n2.url());
  auto& n4 = addNode("", &o4);
  ASSERT_TRUE(runUntil(
      [&] { return n4.mesh->ready() && status(n4).find("\"id\":\"n3\"") != std::string::npos; },
      5000))
      << status(n4);
  // Collection passes run (one before each round) and nobody drops what n3 may lack.
  uint64_t rounds = n1.mesh->antiEntropyRounds() + n2.mesh->antiEntropyRounds();
  ASSERT_TRUE(runUntil(
      [&] { return n1.mesh->antiEntropyRounds() + n2.mesh->antiEntropyRounds() >= rounds + 6; },
      5000));
  if (since(left) < static_cast<long long>(kGraceMs)) {
    EXPECT_LT(n1.keyspace->expiryHorizon(), second.hlc);
    EXPECT_LT(n2.keyspace->expiryHorizon(), second.hlc);
    EXPECT_LT(n4.keyspace->expiryHorizon(), second.hlc);
  }
  // The grace period over, the holds end and the horizon moves on.
  ASSERT_TRUE(runUntil(
      [&] {
        return n1.keyspace->expiryHorizon() > second.hlc &&
               n2.keyspace->expiryHorizon() > second.hlc &&
               n4.keyspace->expiryHorizon() > second.hlc;
      },
      static_cast<int>(kGraceMs) + 5000));
  EXPECT_GE(since(left), static_cast<long long>(kGraceMs));
  EXPECT_NE(status(n1).find("\"expiryHeld\":[]"), std::string::npos) << status(n1);
}

TEST_F(MeshClusterTest, OverflowedPeerIsRepairedByAntiEntropyAndResumes) {
  MeshOptions o1 = options("n1", "http://127.0.0.1:1");
  o1.maxBatchBytes = 8 * 1024;  // one turn of writes below becomes ~35 batches...
  o1.windowBytes = 64 * 1024;   // ...far more than the window: the live stream overflows
  auto& n1 = addNode("", &o1);
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  auto& n2 = addNode(n1.url());
  ASSERT_TRUE(runUntil([&] { return allAlive(2); }, 5000));
  for (int i = 0; i < 1000; ++i) write(n1, "k" + std::to_string(i), std::string(250, 'x'));
  std::string status;
  n1.mesh->appendStatus(status);
  EXPECT_NE(status.find("\"overflowed\":true"), std::string::npos) << status;
  // Anti-entropy repairs n2, after which the live stream carries new writes again.
  ASSERT_TRUE(runUntil([&] { return n2.keyspace->size() == 1000; }, 10000));
  ASSERT_TRUE(runUntil(
      [&] {
        std::string st;
        n1.mesh->appendStatus(st);
        return st.find("\"overflowed\":false") != std::string::npos;
      },
      5000));
  write(n1, "live", "again");
  ASSERT_TRUE(runUntil([&] { return n2.keyspace->contains("live"); }, 5000));
  EXPECT_TRUE(sameRoots());
}

// The merge at the level of the mesh's units (batches, snapshot pages, repair frames): the same
// frames applied in random orders, some twice, give identical stores.
TEST(MeshMerge, BatchesSnapshotsAndRepairsCommuteAndAreIdempotent) {
  std::mt19937_64 rng(7);
  // Three writers produce interleaved mutations with their own clocks.
  std::vector<std::unique_ptr<Keyspace>> writers;
  for (int i = 0; i < 3; ++i) {
    writers.push_back(
        std::make_unique<Keyspace>(makeDefaultKeyspaceOptions("w" + std::to_string(i))));
  }
  std::vector<std::string> frames;
  for (int b = 0; b < 60; ++b) {
    Keyspace& ks = *writers[rng() % 3];
    wire::FrameWriter w(wire::FrameType::kBatch);
    w.setSeq(b + 1);
    for (int j = 0; j < 20; ++j) {
      std::string key = "k" + std::to_string(rng() % 40);
      uint64_t op = rng() % 20;
      if (op == 0) {
        w.add(ks.clear());
      } else if (op < 5) {
        if (auto m = ks.remove(key)) w.add(*m);
      } else {
        w.add(*ks.set(key, "v" + std::to_string(rng())));
      }
    }
    frames.push_back(w.finish());
  }
  // A snapshot of writer 0 and a repair frame of writer 1 join the mix.
  WriteLog unused(nullptr);  // the bridges only read
  StoreBridge b0(*writers[0], unused);
  std::string cursor;
  do {
    auto page = b0.snapshotPage(cursor, 300);
    ASSERT_TRUE(page.ok());
    auto f = wire::decodeFrame(*page, wire::FrameType::kSnapshot);
    ASSERT_TRUE(f.ok());
    cursor = f->extra;
    frames.push_back(std::move(page.value()));
  } while (!cursor.empty());
  StoreBridge b1(*writers[1], unused);
  Keyspace::SegmentSet all;
  all.set();
  frames.push_back(b1.segmentRecords(all));

  auto applyAll = [&](Keyspace& ks, const std::vector<size_t>& order) {
    for (size_t i : order) {
      const std::string& f = frames[i];
      wire::FrameType t = static_cast<wire::FrameType>(f[5]);
      auto d = wire::decodeFrame(f, t);
      ASSERT_TRUE(d.ok());
      for (const auto& m : d->records) ks.apply(m);
    }
  };
  uint64_t reference = 0;
  std::vector<std::string> referenceKeys;
  for (int trial = 0; trial < 8; ++trial) {
    std::vector<size_t> order(frames.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (int rep = 0; rep < 10; ++rep) order.push_back(order[rng() % frames.size()]);  // repeats
    Keyspace ks(makeDefaultKeyspaceOptions("r" + std::to_string(trial)));
    applyAll(ks, order);
    std::vector<std::string> keys;
    auto page = ks.scan("", SIZE_MAX, "", [&](std::string_view k, std::string_view v) {
      keys.push_back(std::string(k) + "=" + std::string(v));
      return true;
    });
    ASSERT_TRUE(page.ok());
    std::sort(keys.begin(), keys.end());
    if (trial == 0) {
      reference = ks.rootHash();
      referenceKeys = keys;
    } else {
      EXPECT_EQ(ks.rootHash(), reference) << "trial " << trial;
      EXPECT_EQ(keys, referenceKeys) << "trial " << trial;
    }
  }
}

}  // namespace
}  // namespace db
