// Hostile-peer tests (issue 10, the mesh's trust boundary): three in-process nodes holding data
// meet a HostilePeer that knows no secret, or holds it (an insider), or faces an open mesh. The
// fake answers every request with an eviction, with forged gossip (itself alive, a real node left
// at incarnation 2^62), or with a signed answer captured from a real node and replayed; it is
// handed to the nodes the way an attacker can, through the public /ping?nodes=. After each: every
// node still holds its data and is ready, was never wiped, lists no fake member (unless the fake
// legitimately holds the secret), no record reached the fake, and w=all counts real nodes only.
// Every test first waits for the positive sign that the attack was delivered (the node counted a
// refused answer or an ignored claim), then checks that nothing happened.
#include <gtest/gtest.h>

#include <charconv>

#include "common/http/client.h"
#include "database/mesh/testing/hostile_peer.h"
#include "database/mesh/testing/mesh_fixture.h"

namespace db {
namespace {

using testing::HostilePeer;
using testing::TestNode;

constexpr int kRecords = 50;
constexpr uint64_t kHugeIncarnation = uint64_t{1} << 62;

class MeshHostileTest : public testing::MeshFixture {
 protected:
  void TearDown() override {
    for (auto& f : fakes_) {
      // The scripts may refer to the test body's locals: the fake answers on its own from now.
      f->answerWith([](const common::http::Request&) {
        return HostilePeer::Answer{503, "{}", {}};
      });
      bool closed = false;
      f->close([&] { closed = true; });
      EXPECT_TRUE(runUntil([&] { return closed; }, 10000));
    }
    fakes_.clear();
    if (client_ != nullptr) {
      bool closed = false;
      client_->close([&] { closed = true; });
      EXPECT_TRUE(runUntil([&] { return closed; }, 10000));
      client_.reset();
    }
    MeshFixture::TearDown();
  }

  // A short grace period, so that the "this life is too young to have been evicted" rule is not
  // what protects: agreement is. Failure detection tolerant enough for a loaded machine (a real
  // eviction of a slow node is not what these tests are about).
  MeshOptions hostileOptions(const std::string& id, const std::string& join) {
    MeshOptions o = options(id, join);
    o.tombstoneGraceMs = kGraceMs;
    o.probeTimeoutMs = 400;
    o.suspicionTimeoutMs = 5000;
    o.replicationTimeoutMs = 5000;
    return o;
  }
  static constexpr uint64_t kGraceMs = 1500;

  // Three nodes, kRecords records everywhere, each life older than the grace period.
  void startCluster() {
    MeshOptions o = hostileOptions("n1", "http://127.0.0.1:1");
    auto& n1 = addNode("", &o);
    ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
    for (const char* id : {"n2", "n3"}) {
      MeshOptions oi = hostileOptions(id, n1.url());
      addNode("", &oi);
    }
    ASSERT_TRUE(runUntil([&] { return allAlive(3); }, 10000));
    for (int i = 0; i < kRecords; ++i) write(*nodes_[i % 3], "k" + std::to_string(i), "v");
    ASSERT_TRUE(
        runUntil([&] { return sameRoots() && nodes_[0]->keyspace->size() == kRecords; }, 10000));
    // Past the grace period: a claim is judged by agreement, not by the age of the life.
    uv_update_time(&loop_);
    uint64_t until = uv_now(&loop_) + kGraceMs + 100;
    runUntil([&] { return uv_now(&loop_) >= until; }, 10000);
  }

  HostilePeer& addFake(const std::string& id) {
    fakes_.push_back(std::make_unique<HostilePeer>(&loop_, id));
    EXPECT_EQ(fakes_.back()->listen(), 0);
    return *fakes_.back();
  }

  common::http::Client& client() {
    if (client_ == nullptr) client_ = std::make_unique<common::http::Client>(&loop_);
    return *client_;
  }

  common::http::ClientResponse request(common::http::ClientRequest req) {
    common::http::ClientResponse out;
    bool done = false;
    client().send(std::move(req), [&](common::http::ClientResponse&& r) {
      out = std::move(r);
      done = true;
    });
    EXPECT_TRUE(runUntil([&] { return done; }, 10000));
    return out;
  }

  // The original's public route: a client (no secret) hands the node an address.
  void publicPing(TestNode& n, const HostilePeer& fake) {
    common::http::ClientRequest req;
    req.method = "GET";
    req.url = n.url() + "/ping?nodes=" + fake.hostPort();
    EXPECT_EQ(request(std::move(req)).status, 200);
  }

  static std::string status(TestNode& n) {
    std::string s;
    n.mesh->appendStatus(s);
    return s;
  }
  static uint64_t statusNumber(TestNode& n, std::string_view name) {
    std::string s = status(n);
    std::string key = "\"" + std::string(name) + "\":";
    size_t at = s.find(key);
    uint64_t v = 0;
    if (at != std::string::npos) {
      std::from_chars(s.data() + at + key.size(), s.data() + s.size(), v);
    }
    return v;
  }

  // What a user would notice if the attack had worked, on every real node.
  void expectUnharmed(const HostilePeer& fake, bool fakeMayBeMember = false) {
    for (int i = 0; i < 3; ++i) {
      TestNode& n = *nodes_[i];
      std::string s = status(n);
      EXPECT_TRUE(n.mesh->ready()) << n.id << " " << s;
      EXPECT_EQ(n.mesh->wipes(), 0u) << n.id << " was wiped: " << s;
      EXPECT_EQ(n.keyspace->size(), static_cast<size_t>(kRecords)) << n.id;
      if (!fakeMayBeMember) {
        EXPECT_EQ(s.find("\"id\":\"" + fake.id() + "\""), std::string::npos) << n.id << " " << s;
        EXPECT_EQ(s.find(fake.url()), std::string::npos) << n.id << " " << s;
        EXPECT_EQ(n.mesh->membership().liveCount(), 3u) << n.id << " " << s;
      }
      for (const char* other : {"n1", "n2", "n3"}) {
        if (n.id == other) continue;
        const Member* m = n.mesh->membership().find(other);
        ASSERT_NE(m, nullptr) << n.id << " forgot " << other;
        // Suspect is what a loaded machine may show; left is what the forged gossip says.
        EXPECT_TRUE(m->live()) << n.id << " sees " << other << ": " << s;
        EXPECT_LT(m->incarnation, kHugeIncarnation) << n.id << " " << s;
      }
    }
    if (!fakeMayBeMember) {
      EXPECT_EQ(fake.count("/_mesh/replicate"), 0u) << "a record reached an unproven peer";
      // w=all is satisfied by the three real nodes, and only by them.
      TestNode& n1 = *nodes_[0];
      Ticket t = n1.write(*n1.keyspace->set("after-attack", "v"));
      int acked = -1;
      bool ok = false;
      n1.log->await(t, WriteLevel::kAll, [&](const WriteOutcome& o) {
        ok = o.status.ok();
        acked = o.acked;
      });
      ASSERT_TRUE(runUntil([&] { return acked >= 0; }, 5000));
      EXPECT_TRUE(ok);
      EXPECT_EQ(acked, 3);
      EXPECT_EQ(fake.count("/_mesh/replicate"), 0u) << "a record reached an unproven peer";
    }
  }

  // The fake is handed to every node; waits until each of them refused at least one of its
  // answers (counter `signal`) and the fake got at least `requests` requests.
  void deliver(HostilePeer& fake, std::string_view signal) {
    for (int i = 0; i < 3; ++i) publicPing(*nodes_[i], fake);
    for (int i = 0; i < 3; ++i) {
      TestNode& n = *nodes_[i];
      ASSERT_TRUE(runUntil([&] { return statusNumber(n, signal) >= 1; }, 5000))
          << n.id << " never refused the fake's answer: " << status(n);
    }
    // A few more probe rounds, in which a node that believed the fake would act on it.
    size_t seen = fake.seen().size();
    runUntil([&] { return fake.seen().size() >= seen + 3; }, 2000);
  }

  std::string memberJson(const std::string& id, const std::string& url, const char* state,
                         uint64_t inc, uint64_t epoch) {
    return "{\"id\":\"" + id + "\",\"url\":\"" + url + "\",\"state\":\"" + state +
           "\",\"inc\":" + std::to_string(inc) + ",\"epoch\":" + std::to_string(epoch) + "}";
  }

  // Forged gossip: the fake alive, n2 left at incarnation 2^62.
  HostilePeer::Answer forgedGossip(const HostilePeer& fake) {
    const Member& n2 = nodes_[1]->mesh->membership().self();
    std::string members = memberJson(fake.id(), fake.url(), "alive", 1, 1) + "," +
                          memberJson("n2", n2.url, "left", kHugeIncarnation, n2.epoch);
    return HostilePeer::gossip(fake.id(), 1, members);
  }

  std::vector<std::unique_ptr<HostilePeer>> fakes_;
  std::unique_ptr<common::http::Client> client_;
};

TEST_F(MeshHostileTest, EvictingFakeWithoutTheSecretWipesNobody) {
  startCluster();
  auto& fake = addFake("fake");
  // It even claims to be a real member.
  fake.answerWith([](const common::http::Request&) { return HostilePeer::evicted("n2"); });
  deliver(fake, "forgedAnswers");
  expectUnharmed(fake);
}

TEST_F(MeshHostileTest, EvictionClaimOfAnInsiderAtAnUnknownAddressIsIgnored) {
  startCluster();
  auto& fake = addFake("fake");
  fake.signWith(secret_);  // holds the secret, and pretends to be n2 answering
  fake.answerWith([](const common::http::Request&) { return HostilePeer::evicted("n2"); });
  deliver(fake, "evictionClaimsIgnored");
  expectUnharmed(fake);
}

class MeshHostileOpenTest : public MeshHostileTest {
 protected:
  void SetUp() override {
    secret_.clear();
    MeshHostileTest::SetUp();
  }
};

TEST_F(MeshHostileOpenTest, EvictingFakeInAnOpenMeshWipesNobody) {
  startCluster();
  auto& fake = addFake("fake");
  fake.answerWith([](const common::http::Request&) { return HostilePeer::evicted("n2"); });
  deliver(fake, "evictionClaimsIgnored");
  expectUnharmed(fake);
}

// A member (here anyone: the mesh is open) that answers every request with an eviction is ONE
// claim: no wipe without agreement.
TEST_F(MeshHostileOpenTest, AMemberAnsweringEvictedIsOneClaimAndWipesNobody) {
  startCluster();
  auto& fake = addFake("fake");
  bool turned = false;
  fake.answerWith([&](const common::http::Request&) {
    return turned ? HostilePeer::evicted("fake") : forgedGossip(fake);
  });
  for (int i = 0; i < 3; ++i) publicPing(*nodes_[i], fake);
  // Open mesh: it answered at its own address, so it is admitted (as documented)...
  for (int i = 0; i < 3; ++i) {
    const auto& ms = nodes_[i]->mesh->membership();
    ASSERT_TRUE(runUntil(
        [&] {
          const Member* m = ms.find("fake");
          return m != nullptr && m->admitted;
        },
        5000))
        << status(*nodes_[i]);
  }
  // ...then it says every node was evicted: one claim each, never agreed.
  turned = true;
  for (int i = 0; i < 3; ++i) {
    TestNode& n = *nodes_[i];
    ASSERT_TRUE(runUntil([&] { return statusNumber(n, "evictionClaims") >= 1; }, 5000))
        << status(n);
  }
  size_t seen = fake.seen().size();
  runUntil([&] { return fake.seen().size() >= seen + 6; }, 3000);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(nodes_[i]->mesh->wipes(), 0u) << status(*nodes_[i]);
    EXPECT_TRUE(nodes_[i]->mesh->ready());
    EXPECT_EQ(nodes_[i]->keyspace->size(), static_cast<size_t>(kRecords));
  }
}

TEST_F(MeshHostileTest, ForgedGossipWithoutTheSecretIsNotBelieved) {
  startCluster();
  auto& fake = addFake("fake");
  fake.answerWith([&](const common::http::Request&) { return forgedGossip(fake); });
  deliver(fake, "forgedAnswers");
  // Pushed as a request, unsigned: refused before anything of it is read.
  common::http::ClientRequest push;
  push.method = "POST";
  push.url = nodes_[0]->url() + "/_mesh/ping";
  push.headers.push_back("X-Mesh-From: fake");
  push.body = forgedGossip(fake).body;
  EXPECT_EQ(request(std::move(push)).status, 401);
  expectUnharmed(fake);
}

TEST_F(MeshHostileTest, AnInsiderCannotDeclareAnotherNodeLeftOrOutrankIt) {
  startCluster();
  auto& fake = addFake("fake");
  fake.signWith(secret_);
  fake.answerWith([&](const common::http::Request&) { return forgedGossip(fake); });
  for (int i = 0; i < 3; ++i) publicPing(*nodes_[i], fake);
  // The insider holds the secret: it is admitted (it answered at its own address)...
  for (int i = 0; i < 3; ++i) {
    const auto& ms = nodes_[i]->mesh->membership();
    ASSERT_TRUE(runUntil(
        [&] {
          const Member* m = ms.find("fake");
          return m != nullptr && m->admitted;
        },
        5000))
        << status(*nodes_[i]);
  }
  // ...and its claim that n2 left at incarnation 2^62 is believed by nobody: a leave comes from
  // the member itself, and no real incarnation lies an hour in the future.
  size_t seen = fake.seen().size();
  runUntil([&] { return fake.seen().size() >= seen + 6; }, 3000);
  expectUnharmed(fake, /*fakeMayBeMember=*/true);
}

TEST_F(MeshHostileTest, AnInsiderFloodingExpiryHoldsIsCappedInCountAndTime) {
  // Expiry holds are gossiped (docs/ttl.md): a member that sends thousands of them, ending in
  // the far future, with a bad id among them and an absurd unsynced tail, leaves each node with
  // at most Eviction::kMaxExpiryHolds holds, none longer than a grace period (and the drift).
  startCluster();
  auto& fake = addFake("fake");
  fake.signWith(secret_);
  std::string extra = "\"unsyncedMs\":18446744073709551615,\"expiryHolds\":{\"\":1,";
  for (int i = 0; i < 2000; ++i) extra += "\"h" + std::to_string(i) + "\":18446744073709551615,";
  extra += "\"last\":\"not a number\"}";
  fake.answerWith([&](const common::http::Request&) {
    return HostilePeer::gossip(fake.id(), 1, memberJson(fake.id(), fake.url(), "alive", 1, 1),
                               extra);
  });
  for (int i = 0; i < 3; ++i) publicPing(*nodes_[i], fake);
  MeshOptions defaults;
  uint64_t longest = defaults.tombstoneGraceMs + defaults.maxClockDriftMs;
  for (int i = 0; i < 3; ++i) {
    TestNode& n = *nodes_[i];
    ASSERT_TRUE(runUntil([&] { return status(n).find("\"id\":\"h") != std::string::npos; }, 5000))
        << status(n);
    std::string s = status(n);
    size_t holds = 0, at = 0;
    const std::string key = "\"leftMs\":";
    while ((at = s.find(key, at)) != std::string::npos) {
      at += key.size();
      uint64_t left = 0;
      std::from_chars(s.data() + at, s.data() + s.size(), left);
      EXPECT_LE(left, longest);
      ++holds;
    }
    EXPECT_GE(holds, 1u);
    EXPECT_LE(holds, Eviction::kMaxExpiryHolds) << n.id;
    EXPECT_EQ(s.find("\"id\":\"\""), std::string::npos) << "an empty id was taken";
  }
}

TEST_F(MeshHostileOpenTest, ForgedGossipInAnOpenMeshCannotDeclareAnotherNodeLeft) {
  startCluster();
  auto& fake = addFake("fake");
  fake.answerWith([&](const common::http::Request&) { return forgedGossip(fake); });
  for (int i = 0; i < 3; ++i) publicPing(*nodes_[i], fake);
  for (int i = 0; i < 3; ++i) {
    const auto& ms = nodes_[i]->mesh->membership();
    ASSERT_TRUE(runUntil([&] { return ms.find("fake") != nullptr; }, 5000)) << status(*nodes_[i]);
  }
  size_t seen = fake.seen().size();
  runUntil([&] { return fake.seen().size() >= seen + 6; }, 3000);
  expectUnharmed(fake, /*fakeMayBeMember=*/true);
}

TEST_F(MeshHostileTest, ACapturedSignedAnswerReplayedToAnotherRequestIsRefused) {
  startCluster();
  // An outsider node with the same secret (its own one-node cluster) answers a signed ping; the
  // fake replays that exact answer (status, body, proof) to whatever it is asked.
  MeshOptions o9 = options("n9", "http://127.0.0.1:1");
  auto& n9 = addNode("", &o9);
  ASSERT_TRUE(runUntil([&] { return n9.mesh->ready(); }, 5000));
  MeshAuth auth(secret_, 60000);
  std::string body = R"({"from":"tester","epoch":1,"members":[]})";
  common::http::ClientRequest ping;
  ping.method = "POST";
  ping.url = n9.url() + "/_mesh/ping";
  uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
  ping.headers.push_back("X-Mesh-Auth: " + auth.sign("POST", "/_mesh/ping", "", body, now, "abc"));
  ping.body = body;
  auto captured = request(std::move(ping));
  ASSERT_EQ(captured.status, 200) << captured.body;
  ASSERT_FALSE(captured.header("x-mesh-auth").empty());
  HostilePeer::Answer replay{static_cast<int>(captured.status), captured.body, {}};
  replay.headers.emplace_back("X-Mesh-Auth", std::string(captured.header("x-mesh-auth")));
  replay.headers.emplace_back("X-Mesh-From", std::string(captured.header("x-mesh-from")));
  auto& fake = addFake("fake");
  fake.answerWith([&](const common::http::Request&) { return replay; });
  deliver(fake, "forgedAnswers");
  expectUnharmed(fake);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(nodes_[i]->mesh->membership().find("n9"), nullptr)
        << "the replayed answer was believed: " << status(*nodes_[i]);
  }
}

TEST_F(MeshHostileTest, MeshRoutesArePostOnly) {
  auto& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  for (const char* path : {"/_mesh/ping", "/_mesh/join", "/_mesh/snapshot", "/_mesh/leave"}) {
    common::http::ClientRequest get;
    get.method = "GET";
    get.url = n1.url() + path;
    auto r = request(std::move(get));
    EXPECT_EQ(r.status, 405) << path;
    EXPECT_EQ(r.header("allow"), "POST") << path;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body;
  }
  EXPECT_TRUE(n1.mesh->ready());
}

}  // namespace
}  // namespace db
