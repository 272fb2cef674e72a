// The client library against real meshkv-node processes (started by the mesh tests' harness:
// PORT=0, --port-file, loopback addresses 127.0.0.1X): the blocking API end to end, errors with
// the server's codes, pages pinned to one node, discovery of the members, spreading requests
// over them, failing over when one is killed, following a node that joins, the async API with
// thousands of pipelined requests on a caller's loop (which must close cleanly), timeouts,
// unreachable nodes, and a keep-alive connection the server closed while the client was idle.
// Every wait polls a condition with a deadline.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <set>

#include "client/protocol.h"
#include "meshkv/client.h"
#include "tests/mesh/harness.h"

namespace meshkv {
namespace {

// The AsyncClient's contract (client.h): its program ignores SIGPIPE. These tests drive it on
// their own loops and kill nodes under it, so a write can meet a reset connection.
const bool kSigpipeIgnored = [] {
  ::signal(SIGPIPE, SIG_IGN);
  return true;
}();

using meshtest::Cluster;
using meshtest::waitFor;

int deadline(int ms) {
  return meshtest::sanitized() ? ms * 3 : ms;
}

bool healthy(Cluster& c, int i) {
  return c.node(i).get("/healthcheck").status == 200;
}

// A port nothing listens on (bound, then closed).
int deadPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// meshkv-lb in static mode in front of `backends` (host:port,...), on a free port.
class Balancer {
 public:
  Balancer(const std::string& dir, const std::string& backends) {
    const char* env = std::getenv("MESHKV_LB_BIN");
    std::string bin = env != nullptr ? env : MESHKV_LB_BIN_DEFAULT;
    std::string portFile = dir + "/lb.port";
    std::string log = dir + "/lb.log";
    pid_ = fork();
    if (pid_ == 0) {
      setenv("SERVICE_PORT", "0", 1);
      setenv("BACKENDS", backends.c_str(), 1);
      unsetenv("GROUP_NAME");
      FILE* f = std::freopen(log.c_str(), "a", stderr);
      (void)f;
      execl(bin.c_str(), bin.c_str(), "--port-file", portFile.c_str(), nullptr);
      _exit(127);
    }
    waitFor(
        [&] {
          std::ifstream in(portFile);
          return static_cast<bool>(in >> port_) && port_ > 0;
        },
        deadline(10000));
  }
  ~Balancer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

Options fast(const std::string& url) {
  Options o;
  o.url = url;
  o.requestTimeoutMs = deadline(5000);
  o.refreshMs = 200;
  o.downMs = 200;
  return o;
}

struct OneNode : ::testing::Test {
  void SetUp() override {
    ASSERT_EQ(cluster.addNode(-1), 0);
    ASSERT_TRUE(waitFor([&] { return healthy(cluster, 0); }, deadline(10000)));
  }
  Cluster cluster{"client-one-node"};
};

TEST_F(OneNode, BlockingApiRoundTripsAwkwardKeysAndValues) {
  Client c(fast(cluster.node(0).url()));
  const std::string key = "a key+with&odd=chars é";
  ASSERT_TRUE(c.set(key, "v 1+2=3 \"q\"").ok());
  auto v = c.get(key);
  ASSERT_TRUE(v.ok()) << v.error().code;
  EXPECT_EQ(*v, "v 1+2=3 \"q\"");
  ASSERT_TRUE(c.set("empty", "").ok());
  EXPECT_EQ(*c.get("empty"), "");
  EXPECT_TRUE(*c.exists(key));
  ASSERT_TRUE(c.remove(key).ok());
  EXPECT_FALSE(*c.exists(key));
  auto missing = c.get(key);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, kMissingRecord);
  EXPECT_EQ(c.remove(key).error().code, kMissingRecord);
  ASSERT_TRUE(c.set("w", "quorum", WriteOptions{.w = "quorum"}).ok());
  ASSERT_TRUE(c.clear().ok());
  EXPECT_FALSE(*c.exists("w"));
}

TEST_F(OneNode, EveryKeyAndListOperationTakesACollection) {
  Client c(fast(cluster.node(0).url()));
  WriteOptions users;
  users.collection = "users";
  ASSERT_TRUE(c.set("k", "in-default").ok());
  ASSERT_TRUE(c.set("k", "in-users", users).ok());
  ASSERT_TRUE(c.set("k2", "two", users).ok());
  EXPECT_EQ(*c.get("k"), "in-default");
  EXPECT_EQ(*c.get("k", "users"), "in-users");
  EXPECT_EQ(c.get("k2").error().code, kMissingRecord);  // only in users
  EXPECT_TRUE(*c.exists("k2", "users"));
  EXPECT_FALSE(*c.exists("k2"));
  auto keys = c.keys("", 100, "users");
  ASSERT_TRUE(keys.ok());
  std::sort(keys->begin(), keys->end());
  EXPECT_EQ(*keys, (std::vector<std::string>{"k", "k2"}));
  ListOptions all;
  all.kind = ListKind::kAll;
  all.collection = "users";
  all.pageSize = 1;  // two pages, both of users
  std::vector<std::string> values;
  for (Pager p = c.list(all); !p.done();) {
    auto page = p.next();
    ASSERT_TRUE(page.ok()) << page.error().code;
    for (auto& e : page->entries) values.push_back(e.value);
  }
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<std::string>{"in-users", "two"}));
  ASSERT_TRUE(c.remove("k2", users).ok());
  EXPECT_EQ(c.remove("k2", users).error().code, kMissingRecord);
  // clear of one collection leaves the default one.
  ASSERT_TRUE(c.clear(users).ok());
  EXPECT_EQ(c.get("k", "users").error().code, kMissingRecord);
  EXPECT_EQ(*c.get("k"), "in-default");
  WriteOptions bad;
  bad.collection = std::string(65, 'c');
  EXPECT_EQ(c.set("k", "v", bad).error().code, "MAXIMUM_COLLECTION_LENGTH_REACHED");
}

TEST_F(OneNode, ExpiringKeysTheirTtlAndPersistAgainstANode) {
  Client c(fast(cluster.node(0).url()));
  WriteOptions expiring;
  expiring.collection = "sessions";
  expiring.ttlSeconds = 600;
  ASSERT_TRUE(c.set("s1", "v", expiring).ok());
  auto left = c.ttl("s1", "sessions");
  ASSERT_TRUE(left.ok()) << left.error().code;
  EXPECT_GT(*left, 590);
  EXPECT_LE(*left, 600);
  EXPECT_EQ(c.ttl("s1").error().code, kMissingRecord);  // not in the default collection
  WriteOptions sessions;
  sessions.collection = "sessions";
  ASSERT_TRUE(c.persist("s1", sessions).ok());
  EXPECT_EQ(*c.ttl("s1", "sessions"), -1);
  EXPECT_EQ(*c.get("s1", "sessions"), "v");
  EXPECT_EQ(c.persist("nope", sessions).error().code, kMissingRecord);
  WriteOptions soon;
  soon.ttlSeconds = 1;
  ASSERT_TRUE(c.set("gone", "v", soon).ok());
  // Expired from the moment its second is up: polled, never slept on.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (c.get("gone").ok() && std::chrono::steady_clock::now() < deadline) {
  }
  EXPECT_EQ(c.get("gone").error().code, kMissingRecord);
  EXPECT_EQ(c.ttl("gone").error().code, kMissingRecord);
}

TEST_F(OneNode, ErrorsCarryTheServerCode) {
  Client c(fast(cluster.node(0).url()));
  EXPECT_EQ(c.set("", "v").error().code, "EMPTY_KEY");
  EXPECT_EQ(c.set(std::string(65, 'k'), "v").error().code, "MAXIMUM_KEY_LENGTH_REACHED");
  EXPECT_EQ(c.set("k", "v", WriteOptions{.w = "most"}).error().code, "INVALID_WRITE_CONCERN");
}

TEST_F(OneNode, ListingWalksEveryPageByPrefix) {
  Client c(fast(cluster.node(0).url()));
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(c.set("user:" + std::to_string(i), "v").ok());
  ASSERT_TRUE(c.set("other", "x").ok());
  std::set<std::string> seen;
  int pages = 0;
  ListOptions opts;
  opts.prefix = "user:";
  opts.pageSize = 7;
  opts.kind = ListKind::kAll;
  for (Pager p = c.list(opts); !p.done();) {
    auto page = p.next();
    ASSERT_TRUE(page.ok()) << page.error().code;
    ++pages;
    for (auto& e : page->entries) {
      EXPECT_EQ(e.value, "v");
      EXPECT_TRUE(seen.insert(e.key).second) << e.key << " twice";
    }
  }
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_GE(pages, 4);
  auto keys = c.keys("user:1");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 11u);  // user:1, user:10..19
}

TEST_F(OneNode, StatusAndMembersDescribeTheNode) {
  Client c(fast(cluster.node(0).url()));
  auto s = c.status();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->hostname, cluster.node(0).id());
  EXPECT_FALSE(s->version.empty());
  auto m = c.members();
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].url, cluster.node(0).url());
}

TEST_F(OneNode, AsyncClientPipelinesOnTheCallersLoopAndClosesClean) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  Options o = fast(cluster.node(0).url());
  o.connectionsPerNode = 2;
  o.maxPipeline = 64;
  o.requestTimeoutMs = deadline(20000);  // about pipelining, not latency: a loaded machine
                                         // (sanitizers, shared cores) stalls the node seconds
  auto client = std::make_unique<AsyncClient>(&loop, o);
  const int n = meshtest::sanitized() ? 2000 : 10000;
  int ok = 0;
  int failed = 0;
  int started = 0;
  std::string firstError;
  // 256 outstanding at a time (what a service on a loop does): 128 pipelined on the two
  // connections, the rest queued in the client until a slot frees.
  std::function<void()> next = [&] {
    if (started == n) return;
    ++started;
    client->set("k" + std::to_string(started), "v", {}, [&](Result<Ok> r) {
      if (r.ok()) {
        ++ok;
      } else if (failed++ == 0) {
        firstError = r.error().code + " " + r.error().message;
      }
      next();
    });
  };
  for (int i = 0; i < 256; ++i) next();
  // Nothing has called back yet: callbacks never run inside the call that started them.
  EXPECT_EQ(ok + failed, 0);
  while (ok + failed < n) uv_run(&loop, UV_RUN_ONCE);
  EXPECT_EQ(ok, n);
  EXPECT_EQ(failed, 0) << firstError;
  EXPECT_LE(client->stats().connectionsOpened, 2u) << "one node, two pooled connections";
  // An idle pooled client does not keep the loop running.
  EXPECT_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
  bool closed = false;
  client->close([&] { closed = true; });
  while (!closed) uv_run(&loop, UV_RUN_ONCE);
  client.reset();
  EXPECT_EQ(uv_loop_close(&loop), 0) << "a handle was left open";
}

TEST_F(OneNode, AKeepAliveConnectionClosedByTheServerIsNotUsedAgain) {
  cluster.node(0).kill9();
  ASSERT_EQ(cluster.addNode(-1, {{"KEEPALIVE_TIMEOUT_MS", "100"}}), 1);
  ASSERT_TRUE(waitFor([&] { return healthy(cluster, 1); }, deadline(10000)));
  Client c(fast(cluster.node(1).url()));
  ASSERT_TRUE(c.set("a", "1").ok());
  // Our pooled connection is idle; wait until the server has closed it (only the probe's own
  // connection is left open).
  ASSERT_TRUE(waitFor(
      [&] {
        auto s = protocol::parseStatus(cluster.node(1).get("/status").body);
        return s.ok() && s->openConnections <= 1;
      },
      deadline(5000)));
  Status st = c.set("a", "2");  // a write: it must not be lost on the dead connection
  ASSERT_TRUE(st.ok()) << st.error().code << " " << st.error().message;
  EXPECT_EQ(*c.get("a"), "2");
}

TEST_F(OneNode, RawRequestsOnePerConnectionNeverResent) {
  // What meshkv-stress asks of the client: any status as an answer, a connection per request
  // when told, and nothing ever sent twice (a failure is the caller's to count).
  uv_loop_t loop;
  uv_loop_init(&loop);
  Options o = fast(cluster.node(0).url());
  o.discovery = Discovery::kSeedOnly;  // no /status of its own: every connection is counted
  o.reuse = Reuse::kOnePerRequest;
  o.resend = Resend::kNever;
  auto client = std::make_unique<AsyncClient>(&loop, o);
  auto send = [&](const std::string& target, RequestKind kind) {
    std::optional<Result<Response>> out;
    client->request(target, kind, [&](Result<Response> r) { out = std::move(r); });
    while (!out) uv_run(&loop, UV_RUN_ONCE);
    return std::move(*out);
  };
  auto set = send("/set?k=raw&v=1&w=1", RequestKind::kWrite);
  ASSERT_TRUE(set.ok()) << set.error().code << " " << set.error().message;
  EXPECT_EQ(set->status, 200);
  EXPECT_EQ(set->node, cluster.node(0).url());
  auto miss = send("/get?k=never-set", RequestKind::kRead);
  ASSERT_TRUE(miss.ok()) << "a 404 is an answer here, not an error";
  EXPECT_EQ(miss->status, 404);
  EXPECT_NE(miss->body.find("MISSING_RECORD"), std::string::npos);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(send("/get?k=raw", RequestKind::kRead)->status, 200);
  EXPECT_EQ(client->stats().connectionsOpened, 7u) << "one connection per request";
  cluster.node(0).kill9();
  auto dead = send("/get?k=raw", RequestKind::kRead);
  ASSERT_FALSE(dead.ok());
  EXPECT_EQ(dead.error().code, kUnavailable);
  EXPECT_EQ(client->stats().retries, 0u) << "Resend::kNever: not even a read is resent";
  bool closed = false;
  client->close([&] { closed = true; });
  while (!closed) uv_run(&loop, UV_RUN_ONCE);
  client.reset();
  EXPECT_EQ(uv_loop_close(&loop), 0) << "a handle was left open";
}

TEST(ClientErrors, NoAnswerIsATimeoutAndNoListenerIsUnavailable) {
  // A listener that never accepts: the kernel completes the handshake, nobody answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  Options o;
  o.url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  o.requestTimeoutMs = 300;
  auto started = std::chrono::steady_clock::now();
  {
    Client c(o);
    auto r = c.get("k");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, kTimeout);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ::close(fd);

  o.url = "http://127.0.0.1:" + std::to_string(deadPort());
  Client c(o);
  auto r = c.get("k");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, kUnavailable);
  Options bad;
  bad.url = "127.0.0.1:8080";
  Client b(bad);
  EXPECT_EQ(b.get("k").error().code, kBadUrl);
}

struct ThreeNodes : ::testing::Test {
  void SetUp() override {
    // Failure detection slow enough that a loaded machine (sanitizers, 2 shared cores) does not
    // declare a live node dead in the middle of a test that counts where requests went.
    cluster.commonEnv["PROBE_TIMEOUT_MS"] = "1000";
    cluster.commonEnv["PROBE_INTERVAL_MS"] = "300";
    cluster.commonEnv["SUSPICION_TIMEOUT_MS"] = "3000";
    ASSERT_EQ(cluster.addNode(-1), 0);
    ASSERT_EQ(cluster.addNode(0), 1);
    ASSERT_EQ(cluster.addNode(0), 2);
    ASSERT_TRUE(waitFor(
        [&] {
          for (int i = 0; i < 3; ++i) {
            if (meshtest::membersIn(cluster.node(i).get("/status"), "alive") != 3) return false;
          }
          return true;
        },
        deadline(20000)));
  }
  std::set<std::string> nodesOf(Client& c) {
    auto s = c.stats();
    return {s.nodes.begin(), s.nodes.end()};
  }
  // The client lists the three members (each ready: a member that has not yet told the others
  // it caught up is left out, so this can take a few probe rounds after they all see 3 alive).
  bool seesAll(Client& c) {
    return waitFor(
        [&] {
          auto n = c.refresh();
          return n.ok() && *n == 3;
        },
        deadline(10000));
  }
  Cluster cluster{"client-three-nodes"};
};

TEST_F(ThreeNodes, LearnsTheMembersAndSpreadsRequestsOverThem) {
  Client c(fast(cluster.node(0).url()));
  ASSERT_TRUE(seesAll(c));
  EXPECT_EQ(nodesOf(c), (std::set<std::string>{cluster.node(0).url(), cluster.node(1).url(),
                                               cluster.node(2).url()}));
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(c.set("k" + std::to_string(i), "v").ok());
  auto answered = c.stats().answeredBy;
  for (int i = 0; i < 3; ++i) {
    // Each node answered a fair share of the 60 writes (round robin: 20 each).
    EXPECT_GE(answered[cluster.node(i).url()], 15u) << cluster.node(i).url();
  }
  // And the writes are where a user looks for them, whichever node took them.
  ASSERT_TRUE(
      waitFor([&] { return cluster.node(2).get("/get?k=k0").status == 200; }, deadline(5000)));
}

TEST_F(ThreeNodes, FailsOverWhenANodeDiesAndFollowsOneThatJoins) {
  Client c(fast(cluster.node(0).url()));
  ASSERT_TRUE(seesAll(c));
  ASSERT_TRUE(c.set("x", "1").ok());
  ASSERT_TRUE(
      waitFor([&] { return cluster.node(2).get("/get?k=x").status == 200; }, deadline(5000)));
  cluster.node(1).kill9();
  // Every read still succeeds: one that meets the dead node is resent to another.
  for (int i = 0; i < 30; ++i) {
    auto v = c.get("x");
    ASSERT_TRUE(v.ok()) << i << ": " << v.error().code << " " << v.error().message;
    EXPECT_EQ(*v, "1");
  }
  EXPECT_GT(c.stats().retries, 0u);
  // Once the mesh declares it dead, the client stops listing it.
  ASSERT_TRUE(waitFor(
      [&] {
        (void)c.refresh();
        return nodesOf(c).count(cluster.node(1).url()) == 0;
      },
      deadline(15000)));
  // A new node joins: the client finds it and sends it requests.
  int added = cluster.addNode(0);
  ASSERT_EQ(added, 3);
  ASSERT_TRUE(waitFor(
      [&] {
        (void)c.refresh();
        return nodesOf(c).count(cluster.node(3).url()) == 1;
      },
      deadline(20000)));
  ASSERT_TRUE(waitFor([&] { return healthy(cluster, 3); }, deadline(20000)));
  uint64_t before = c.stats().answeredBy[cluster.node(3).url()];
  for (int i = 0; i < 30; ++i) {
    auto v = c.get("x");
    ASSERT_TRUE(v.ok()) << v.error().code;
    EXPECT_EQ(*v, "1") << "the new node caught up before it was healthy";
  }
  EXPECT_GE(c.stats().answeredBy[cluster.node(3).url()] - before, 5u);
}

TEST_F(ThreeNodes, AsyncReadsInFlightSurviveANodeKilledUnderThem) {
  {
    Client writer(fast(cluster.node(0).url()));
    ASSERT_TRUE(writer.set("x", "1", WriteOptions{.w = "all"}).ok());
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  Options o = fast(cluster.node(0).url());
  o.maxPipeline = 16;
  auto client = std::make_unique<AsyncClient>(&loop, o);
  size_t nodes = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline(10000));
  while (nodes != 3 && std::chrono::steady_clock::now() < until) {  // until it lists all 3
    bool done = false;
    client->refresh([&](Result<size_t> n) {
      nodes = n.ok() ? *n : 0;
      done = true;
    });
    while (!done) uv_run(&loop, UV_RUN_ONCE);
  }
  ASSERT_EQ(nodes, 3u);
  const int total = 3000;
  int started = 0;
  int ok = 0;
  std::vector<std::string> errors;
  bool killed = false;
  std::function<void()> next = [&] {
    if (started == total) return;
    ++started;
    client->get("x", [&](Result<std::string> r) {
      if (r.ok() && *r == "1") {
        ++ok;
      } else {
        errors.push_back(r.ok() ? "value " + *r : r.error().code + " " + r.error().message);
      }
      if (ok == 300 && !killed) {  // mid-stream, with requests pipelined to every node
        killed = true;
        cluster.node(1).kill9();
      }
      next();
    });
  };
  for (int i = 0; i < 48; ++i) next();
  while (ok + static_cast<int>(errors.size()) < total) uv_run(&loop, UV_RUN_ONCE);
  EXPECT_TRUE(killed);
  EXPECT_EQ(ok, total) << (errors.empty() ? "" : errors.front());
  EXPECT_GT(client->stats().retries, 0u);
  bool closed = false;
  client->close([&] { closed = true; });
  while (!closed) uv_run(&loop, UV_RUN_ONCE);
  client.reset();
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

// The pid of the node whose command line names this (unique) port file.
pid_t pidOf(const std::string& portFile) {
  for (int pid = 2; pid < 4194304; ++pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
    if (!f) continue;
    std::string cmd((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (cmd.find(portFile) != std::string::npos) return pid;
  }
  return -1;
}

TEST_F(ThreeNodes, ReadsGoAroundAHungNode) {
  Options o = fast(cluster.node(0).url());
  o.requestTimeoutMs = deadline(10000);
  o.attemptTimeoutMs = deadline(1000);
  o.downMs = 60000;  // once it failed an attempt, the hung node is left alone
  Client c(o);
  ASSERT_TRUE(seesAll(c));
  ASSERT_TRUE(c.set("x", "1", WriteOptions{.w = "all"}).ok());
  pid_t hung = pidOf(cluster.dir() + "/" + cluster.node(1).id() + ".port");
  ASSERT_GT(hung, 0);
  ASSERT_EQ(::kill(hung, SIGSTOP), 0);  // alive for TCP, answers nothing
  for (int i = 0; i < 12; ++i) {
    auto v = c.get("x");
    ASSERT_TRUE(v.ok()) << i << ": " << v.error().code << " " << v.error().message;
    EXPECT_EQ(*v, "1");
  }
  EXPECT_GT(c.stats().retries, 0u);
  ::kill(hung, SIGCONT);
}

TEST_F(ThreeNodes, GivenTheBalancerItTalksToTheMembersDirectly) {
  std::string backends;
  for (int i = 0; i < 3; ++i) {
    backends +=
        (i > 0 ? "," : "") + cluster.node(i).id() + ":" + std::to_string(cluster.node(i).port());
  }
  Balancer lb(cluster.dir(), backends);
  ASSERT_GT(lb.port(), 0) << "meshkv-lb did not start";
  Client direct(fast(lb.url()));
  ASSERT_TRUE(seesAll(direct));
  EXPECT_EQ(nodesOf(direct).count(lb.url()), 0u) << "the balancer is only the fallback";
  auto before = direct.stats().answeredBy;  // the balancer answered the /status reads
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(direct.set("b" + std::to_string(i), "v").ok());
  auto answered = direct.stats().answeredBy;
  EXPECT_EQ(answered[lb.url()], before[lb.url()]) << "no write went through the balancer";
  for (int i = 0; i < 3; ++i) {
    EXPECT_GE(answered[cluster.node(i).url()] - before[cluster.node(i).url()], 5u);
  }
  // Balancer-only mode: everything through the balancer.
  Options o = fast(lb.url());
  o.discovery = Discovery::kSeedOnly;
  Client viaLb(o);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(viaLb.set("lb" + std::to_string(i), "v").ok());
    auto v = viaLb.get("lb" + std::to_string(i));  // the same pooled connection, same backend
    ASSERT_TRUE(v.ok()) << v.error().code;
  }
  EXPECT_EQ(viaLb.stats().answeredBy[lb.url()], 10u);
  EXPECT_EQ(viaLb.stats().answeredBy.size(), 1u);
}

TEST_F(ThreeNodes, SeedOnlyModeTalksToTheGivenUrlAlone) {
  Options o = fast(cluster.node(1).url());
  o.discovery = Discovery::kSeedOnly;
  Client c(o);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.set("s" + std::to_string(i), "v").ok());
  auto answered = c.stats().answeredBy;
  EXPECT_EQ(answered.size(), 1u);
  EXPECT_EQ(answered[cluster.node(1).url()], 20u);
  EXPECT_EQ(nodesOf(c), std::set<std::string>{cluster.node(1).url()});
}

}  // namespace
}  // namespace meshkv
