// A node of an OPEN mesh (no MESH_SECRET) facing a fake peer (testing/fake_peer.h) that answers
// forged digests, repairs and snapshot pages and pushes forged batches and repairs: records a
// client could never write (a 500-code-point key, raw \xff\xfe bytes, an invalid value, a bad
// origin) must never be stored. Each test checks what a client would see afterwards through the
// node's real API: /getKeys is valid JSON without them, every listed key reads back with /get,
// the node is ready and its own data intact, and /status counts the refusals. In an open mesh
// a well-formed forged record within the limits IS accepted (docs/mesh.md): the tests show
// that too, so they would notice a node that simply refused everything from a peer.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "common/http/client.h"
#include "common/http/url.h"
#include "common/testing/run_until.h"
#include "database/http/api.h"
#include "database/mesh/mesh_cluster.h"
#include "database/mesh/testing/fake_peer.h"
#include "database/mesh/wire.h"
#include "database/storage/keyspace_reconcile.h"

namespace db {
namespace {

std::string repeat(std::string_view unit, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.append(unit);
  return s;
}

// The forged keys that break the rules (limits: 64 code points per key, 256 per value).
const std::string kLongKey = repeat("\xE2\x82\xAC", 500);  // 500 code points
const std::string kRawKey = "\xFF\xFE";                    // not UTF-8
const std::string kNeverWritten = "never-written";         // well-formed

struct TestNode {
  std::unique_ptr<Keyspace> keyspace;
  std::unique_ptr<common::http::Server> server;
  std::unique_ptr<WriteLog> log;  // memory mode: writes are answered once applied
  std::unique_ptr<MeshCluster> mesh;
  std::unique_ptr<Api> api;
  bool closed = false;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
};

class HostilePeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    uv_timer_init(&loop_, &tick_);
    uv_timer_start(
        &tick_, [](uv_timer_t*) {}, 5, 5);  // bounds one uv_run, so runUntil re-checks
    client_ = std::make_unique<common::http::Client>(&loop_);
    fake_ = std::make_unique<testing::FakePeer>(&loop_);
    ASSERT_EQ(fake_->listen(), 0);
  }

  void TearDown() override {
    // The clients first (their keep-alive connections would hold the nodes' servers open), and
    // the fake: a node's leave announcement to it then fails at once, which a leave tolerates.
    int left = 2;
    fake_->close([&] { --left; });
    client_->close([&] { --left; });
    EXPECT_TRUE(runUntil([&] { return left == 0; }, 10000));
    for (auto& n : nodes_) {
      TestNode* p = n.get();
      n->mesh->leave([p] { p->log->close([p] { p->server->close([p] { p->closed = true; }); }); });
    }
    EXPECT_TRUE(runUntil(
        [&] {
          return std::all_of(nodes_.begin(), nodes_.end(), [](auto& n) { return n->closed; });
        },
        10000));
    nodes_.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  // A node with the default limits (64 / 256 code points) and its public API, mesh open.
  TestNode& addNode(const std::string& join) {
    auto n = std::make_unique<TestNode>();
    std::string id = "n" + std::to_string(nodes_.size() + 1);
    n->keyspace = std::make_unique<Keyspace>(makeDefaultKeyspaceOptions(id));
    n->server = std::make_unique<common::http::Server>(&loop_, common::http::ServerOptions{});
    MeshOptions o;
    o.nodeId = id;
    o.advertiseUrl = "http://127.0.0.1:0";
    o.meshNetworkUrl = join;
    o.probeIntervalMs = 100;
    o.probeTimeoutMs = 80;
    o.joinRetryMs = 10;
    o.antiEntropyIntervalMs = 200;
    n->log = std::make_unique<WriteLog>(&loop_);
    n->mesh = std::make_unique<MeshCluster>(&loop_, *n->keyspace, *n->log, o);
    n->log->subscribe(*n->mesh);
    n->log->setReplication(*n->mesh);
    n->log->start();
    n->api = std::make_unique<Api>(*n->keyspace, *n->log, *n->mesh, *n->server,
                                   NodeInfo{id, Limits{}, uv_now(&loop_)});
    n->api->registerRoutes();
    n->mesh->registerRoutes(*n->server);
    EXPECT_EQ(n->server->listen("127.0.0.1", 0), 0);
    n->mesh->start();
    nodes_.push_back(std::move(n));
    return *nodes_.back();
  }

  bool runUntil(const std::function<bool()>& cond, int timeoutMs) {
    return common::testing::runUntil(&loop_, cond, timeoutMs);
  }

  common::http::ClientResponse get(const std::string& url) {
    common::http::ClientRequest req;
    req.url = url;
    common::http::ClientResponse out;
    bool done = false;
    client_->send(std::move(req), [&](common::http::ClientResponse&& r) {
      out = std::move(r);
      done = true;
    });
    EXPECT_TRUE(runUntil([&] { return done; }, 5000)) << url;
    return out;
  }

  common::http::ClientResponse push(TestNode& n, const std::string& path, std::string frame) {
    common::http::ClientResponse out;
    bool done = false;
    fake_->post(n.url(), path, std::move(frame), [&](common::http::ClientResponse&& r) {
      out = std::move(r);
      done = true;
    });
    EXPECT_TRUE(runUntil([&] { return done; }, 5000)) << path;
    return out;
  }

  void set(TestNode& n, const std::string& k, const std::string& v) {
    std::string q = "/set?k=";
    common::urlEncode(k, q);
    q.append("&v=");
    common::urlEncode(v, q);
    ASSERT_EQ(get(n.url() + q).status, 200) << k;
  }

  // A number under "mesh" in the node's /status.
  long long meshCounter(TestNode& n, const char* name) {
    auto r = get(n.url() + "/status");
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("mesh")) return -1;
    const auto& m = d["mesh"];
    return m.HasMember(name) && m[name].IsUint64() ? static_cast<long long>(m[name].GetUint64())
                                                   : -1;
  }

  // What a client sees: /getKeys parses as a JSON array of strings, every key in it reads back
  // through /get, every key obeys the limits. Returns key -> value.
  std::map<std::string, std::string> clientView(TestNode& n) {
    std::map<std::string, std::string> out;
    auto keys = get(n.url() + "/getKeys");
    EXPECT_EQ(keys.status, 200);
    rapidjson::Document d;
    d.Parse(keys.body.data(), keys.body.size());
    EXPECT_FALSE(d.HasParseError()) << "/getKeys is not valid JSON: " << keys.body;
    if (d.HasParseError() || !d.IsArray()) return out;
    for (const auto& k : d.GetArray()) {
      EXPECT_TRUE(k.IsString());
      if (!k.IsString()) continue;
      std::string key(k.GetString(), k.GetStringLength());
      EXPECT_TRUE(common::isValidUtf8(key));
      EXPECT_LE(common::countCodePoints(key), 64u);
      std::string q = "/get?k=";
      common::urlEncode(key, q);
      auto v = get(n.url() + q);
      EXPECT_EQ(v.status, 200) << "listed but not readable: " << key;
      rapidjson::Document vd;
      vd.Parse(v.body.data(), v.body.size());
      if (!vd.HasParseError() && vd.IsString()) out[key] = vd.GetString();
    }
    return out;
  }

  // The client's own data, written through the API.
  std::map<std::string, std::string> writeOwnData(TestNode& n) {
    std::map<std::string, std::string> data;
    for (int i = 0; i < 20; ++i) {
      std::string k = "own" + std::to_string(i), v = "value " + std::to_string(i);
      set(n, k, v);
      data[k] = v;
    }
    return data;
  }

  // A kRecords frame as a repair push carries it (the segment bitmap in its extra field).
  static wire::FrameWriter repairWriter() {
    wire::FrameWriter w(wire::FrameType::kRecords);
    w.setExtra(std::string(Keyspace::kSegments / 8, '\0'));
    return w;
  }

  static uint64_t now() {
    return Hlc::pack(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count()),
                     0);
  }

  uv_loop_t loop_;
  uv_timer_t tick_;
  std::unique_ptr<common::http::Client> client_;
  std::unique_ptr<testing::FakePeer> fake_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

TEST_F(HostilePeerTest, ForgedDigestAndRepairAnswersAreRefusedWhole) {
  TestNode& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  auto own = writeOwnData(n1);
  // The fake holds a key nobody wrote, a 500-code-point key and a raw \xff\xfe key; it joins,
  // and the node compares digests with it (at once: a peer met while ready) and asks for the
  // differing segments: the answer carries all three.
  ASSERT_TRUE(fake_->store().set(kNeverWritten, "forged").ok());
  ASSERT_TRUE(fake_->store().set(kLongKey, "forged").ok());
  ASSERT_TRUE(fake_->store().set(kRawKey, "forged").ok());
  long joined = 0;
  fake_->join(n1.url(), [&](long status) { joined = status; });
  ASSERT_TRUE(runUntil([&] { return joined != 0; }, 5000));
  ASSERT_EQ(joined, 200);
  // Two rounds, two refusals: the node keeps trying (nothing wedged), and keeps refusing.
  ASSERT_TRUE(runUntil([&] { return meshCounter(n1, "framesRefused") >= 2; }, 10000));
  EXPECT_GE(fake_->digestsAnswered(), 2u);
  EXPECT_GE(fake_->repairsAnswered(), 2u);
  EXPECT_GE(meshCounter(n1, "recordsRefused"), 4) << "two bad records per answer";

  EXPECT_EQ(clientView(n1), own) << "nothing of the forged answers, own data intact";
  EXPECT_FALSE(n1.keyspace->contains(kNeverWritten)) << "the whole answer was refused";
  EXPECT_EQ(get(n1.url() + "/healthcheck").status, 200);

  // The node still repairs from that peer once it serves only what a client could write (in
  // an open mesh a well-formed record is accepted: docs/mesh.md).
  fake_->store().reset();
  ASSERT_TRUE(fake_->store().set(kNeverWritten, "forged").ok());
  ASSERT_TRUE(runUntil([&] { return n1.keyspace->contains(kNeverWritten); }, 10000));
  own[kNeverWritten] = "forged";
  EXPECT_EQ(clientView(n1), own);
}

TEST_F(HostilePeerTest, ForgedBatchesAndRepairPushesAreRefusedWhole) {
  TestNode& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  auto own = writeOwnData(n1);
  using K = Mutation::Kind;
  struct Bad {
    const char* what;
    K kind;
    std::string key, value, origin;
    uint64_t hlc;
  };
  uint64_t t = now() + Hlc::pack(5, 0);  // newer than the client's writes, within the drift
  std::vector<Bad> bad = {
      {"500-code-point key", K::kPut, kLongKey, "v", "fake", t},
      {"raw \\xff\\xfe key", K::kPut, kRawKey, "v", "fake", t},
      {"65-code-point key", K::kPut, repeat("k", 65), "v", "fake", t},
      {"257-code-point value", K::kPut, "k", repeat("v", 257), "fake", t},
      {"overlong value", K::kPut, "k", "\xC0\xAF", "fake", t},
      {"surrogate key", K::kPut, "\xED\xA0\x80", "v", "fake", t},
      {"tombstone of a bad key", K::kDelete, kRawKey, "", "fake", t},
      {"tombstone of an own key, bad origin", K::kDelete, "own1", "", "\xFF", t},
      {"origin with a newline", K::kPut, "own2", "v", "a\nb", t},
      {"hlc 0", K::kPut, "own3", "v", "fake", 0},
  };
  for (const auto& b : bad) {
    SCOPED_TRACE(b.what);
    // One bad record among good ones (one of which overwrites a key of the client's).
    auto frame = [&](wire::FrameWriter w) {
      w.add(K::kPut, kNeverWritten, "forged", t, "fake");
      w.add(b.kind, b.key, b.value, b.hlc, b.origin);
      w.add(K::kPut, "own0", "overwritten", t + 1, "fake");
      return w.finish();
    };
    wire::FrameWriter batch(wire::FrameType::kBatch);
    batch.setSeq(7);
    auto r = push(n1, "/_mesh/replicate", frame(std::move(batch)));
    // Acknowledged (a refusal would make a real sender resend it forever), marked refused.
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("x-mesh-error"), "INVALID_RECORD");
    EXPECT_NE(r.body.find("\"ack\":7"), std::string::npos) << r.body;
    r = push(n1, "/_mesh/repair", frame(repairWriter()));
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.header("x-mesh-error"), "INVALID_RECORD");
  }
  EXPECT_EQ(meshCounter(n1, "framesRefused"), static_cast<long long>(2 * bad.size()));
  EXPECT_EQ(meshCounter(n1, "recordsRefused"), static_cast<long long>(2 * bad.size()));
  EXPECT_EQ(clientView(n1), own) << "nothing of any refused frame was applied";
  EXPECT_EQ(get(n1.url() + "/healthcheck").status, 200);

  // The same frame without its bad record is taken: the refusals wedged nothing.
  wire::FrameWriter batch(wire::FrameType::kBatch);
  batch.setSeq(8);
  batch.add(K::kPut, kNeverWritten, "forged", t, "fake");
  batch.add(K::kPut, "own0", "overwritten", t + 1, "fake");
  auto r = push(n1, "/_mesh/replicate", batch.finish());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("x-mesh-error"), "");
  own[kNeverWritten] = "forged";
  own["own0"] = "overwritten";
  EXPECT_EQ(clientView(n1), own);
}

TEST_F(HostilePeerTest, MalformedReconcileSummariesAreRefusedAndAnsweredNothing) {
  TestNode& n1 = addNode("http://127.0.0.1:1");
  ASSERT_TRUE(runUntil([&] { return n1.mesh->ready(); }, 5000));
  auto own = writeOwnData(n1);
  Keyspace::SegmentSet all;
  all.set();
  std::string good = reconcile::encodeSummary(all, {1, 2});
  std::string unordered = reconcile::encodeSummary(all, {2, 1});
  for (const std::string& bad : {std::string("MKS1"), std::string(600, 'x'), unordered,
                                 good.substr(0, good.size() - 1), good + "x"}) {
    auto r = push(n1, "/_mesh/reconcile", bad);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("BAD_SUMMARY"), std::string::npos) << r.body;
  }
  EXPECT_EQ(clientView(n1), own);
  EXPECT_EQ(get(n1.url() + "/healthcheck").status, 200);

  // A well-formed summary of an empty side: the node answers all its records, wants the two
  // hashes it does not hold, and takes nothing itself.
  auto r = push(n1, "/_mesh/reconcile", good);
  ASSERT_EQ(r.status, 200) << r.body;
  auto a = reconcile::decodeAnswer(r.body);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_FALSE(a->truncated);
  EXPECT_EQ(a->wanted, (std::vector<uint64_t>{1, 2}));
  auto f = wire::validateFrame(a->frame, wire::FrameType::kRecords);
  ASSERT_TRUE(f.ok()) << f.error().code;
  EXPECT_EQ(f->count, n1.keyspace->engine().size());
  EXPECT_EQ(clientView(n1), own);
}

TEST_F(HostilePeerTest, ForgedSnapshotPageIsRefusedAndTheCopyStartsOver) {
  // The fake is the only member a new node can copy from; its one page carries good records
  // and forged ones.
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(fake_->store().set("good" + std::to_string(i), "v").ok());
  ASSERT_TRUE(fake_->store().set(kLongKey, "forged").ok());
  ASSERT_TRUE(fake_->store().set(kRawKey, "forged").ok());
  TestNode& n2 = addNode(fake_->url());
  ASSERT_TRUE(
      runUntil([&] { return n2.mesh->ready() || fake_->snapshotPagesServed() >= 2; }, 10000));
  EXPECT_FALSE(n2.mesh->ready()) << "a node never becomes ready on a refused copy";
  EXPECT_EQ(n2.keyspace->size(), 0u) << "nothing of a refused page is applied";
  EXPECT_GE(meshCounter(n2, "framesRefused"), 1);
  EXPECT_EQ(get(n2.url() + "/healthcheck").status, 503);

  // Once the source serves a valid copy, the node takes it and is ready.
  fake_->store().reset();
  std::map<std::string, std::string> good;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(fake_->store().set("good" + std::to_string(i), "v").ok());
    good["good" + std::to_string(i)] = "v";
  }
  ASSERT_TRUE(runUntil([&] { return n2.mesh->ready(); }, 10000));
  EXPECT_EQ(clientView(n2), good);
  EXPECT_EQ(get(n2.url() + "/healthcheck").status, 200);
}

}  // namespace
}  // namespace db
