// Proxy tests: a Listener with real backends (TestBackend) and clients (TestClient) on
// loopback port 0, all on the test's own loop. They check what a user of the balancer sees:
// distribution, retry past dead backends, a client never left hanging, drain, half-close,
// idle timeout, bounded memory with a slow reader, MAX_CONNECTIONS and graceful drain, and a
// server's last answer and FIN passed on together.
#include "load-balancer/proxy/listener.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>

#include "load-balancer/proxy/least_conn.h"
#include "load-balancer/proxy/round_robin.h"
#include "load-balancer/testing/loop_runner.h"
#include "load-balancer/testing/tcp_peers.h"

namespace lb {
namespace {

using testing::runFor;
using testing::runUntil;
using testing::TestBackend;
using testing::TestClient;

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override { uv_loop_init(&loop_); }

  void TearDown() override {
    clients_.clear();
    if (listener_) {
      bool done = false;
      listener_->drain(0, [&] { done = true; });
      EXPECT_TRUE(runUntil(&loop_, [&] { return done; }));
      listener_.reset();
    }
    for (auto& b : backends_) b->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    backends_.clear();
    EXPECT_EQ(0, uv_loop_close(&loop_));
  }

  TestBackend& addBackend(const std::string& name,
                          TestBackend::Mode mode = TestBackend::Mode::kGreetAndEcho,
                          uint64_t flood = 0) {
    backends_.push_back(std::make_unique<TestBackend>(&loop_, name, mode, flood));
    int port = backends_.back()->listen();
    addStatic(name, port);
    return *backends_.back();
  }

  void addStatic(const std::string& name, int port) {
    sockaddr_storage addr;
    ASSERT_TRUE(makeAddress("127.0.0.1", port, addr));
    pool_.upsert(name, name, addr, BackendState::kReady);
  }

  // A port with nothing listening: bind one, read it back, close it.
  int deadPort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(0);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }

  void startProxy(ListenerOptions opts = {}) {
    listener_ = std::make_unique<Listener>(&loop_, pool_, *balancer_, opts);
    ASSERT_EQ(0, listener_->listen("127.0.0.1", 0));
  }

  TestClient& connectClient(bool read = true) {
    clients_.push_back(std::make_unique<TestClient>(&loop_));
    clients_.back()->connect(listener_->port(), read);
    return *clients_.back();
  }

  // A backend and a client on plain sockets, driven by the test between loop turns, for what
  // TestBackend/TestClient cannot time: what is in a socket at the moment the proxy reads it.
  // rawBackend listens on loopback and is the pool's only backend; returns the listening fd.
  int rawBackend() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd, 4) != 0) return -1;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    addStatic("raw", ntohs(a.sin_port));
    return fd;
  }
  // A blocking client connected to the proxy (rcvbuf > 0: SO_RCVBUF set first).
  int rawClient(int rcvbuf = 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a = loopback(listener_->port());
    return ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? fd : -1;
  }
  static sockaddr_in loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    return a;
  }

  // The greeting line a client received: which backend it reached.
  static std::string greeting(const TestClient& c) {
    return c.received.substr(0, c.received.find('\n'));
  }

  uv_loop_t loop_;
  BackendPool pool_;
  std::unique_ptr<Balancer> balancer_ = std::make_unique<RoundRobin>();
  std::unique_ptr<Listener> listener_;
  std::vector<std::unique_ptr<TestBackend>> backends_;
  std::vector<std::unique_ptr<TestClient>> clients_;
};

TEST_F(ProxyTest, RoundRobinSpreadsConnectionsEvenlyAndRelaysBothWays) {
  addBackend("a");
  addBackend("b");
  addBackend("c");
  startProxy();
  std::map<std::string, int> hits;
  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i) {
    TestClient& c = connectClient();
    ASSERT_TRUE(runUntil(&loop_, [&] { return c.received.find('\n') != std::string::npos; }));
    order.push_back(greeting(c));
    ++hits[greeting(c)];
    c.send("ping");
    ASSERT_TRUE(runUntil(&loop_, [&] { return c.received.size() == 2 + 4; }));
    EXPECT_EQ(greeting(c) + "\nping", c.received);
  }
  EXPECT_EQ((std::map<std::string, int>{{"a", 2}, {"b", 2}, {"c", 2}}), hits);
  EXPECT_EQ(order[0], order[3]);
  EXPECT_NE(order[0], order[1]);
  EXPECT_EQ(6u, listener_->stats().accepted);
}

TEST_F(ProxyTest, FailedConnectIsRetriedOnTheNextBackendAndPassiveHealthTakesItOut) {
  addStatic("dead", deadPort());
  addBackend("live");
  startProxy();
  for (int i = 0; i < 5; ++i) {
    TestClient& c = connectClient();
    ASSERT_TRUE(runUntil(&loop_, [&] { return c.received.find('\n') != std::string::npos; }));
    EXPECT_EQ("live", greeting(c));
  }
  Backend* dead = pool_.find("dead");
  ASSERT_NE(nullptr, dead);
  // Three refusals in a row take it out: later clients do not even try it.
  EXPECT_EQ(3u, dead->failures);
  EXPECT_GT(dead->downUntilMs, uv_now(&loop_));
  EXPECT_GE(listener_->stats().connectRetries, 3u);
}

TEST_F(ProxyTest, ClientIsClosedWhenNoBackendAnswers) {
  addStatic("dead1", deadPort());
  addStatic("dead2", deadPort());
  startProxy();
  TestClient& c = connectClient();
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return c.eof; }, 3000));
  EXPECT_EQ("", c.received);
  EXPECT_EQ(1u, listener_->stats().noBackend);
  EXPECT_EQ(1u, pool_.find("dead1")->failures);
  EXPECT_EQ(1u, pool_.find("dead2")->failures);
  // And with an empty pool.
  pool_.remove("dead1");
  pool_.remove("dead2");
  TestClient& d = connectClient();
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return d.eof; }, 3000));
}

TEST_F(ProxyTest, ConnectTimeoutMovesToTheNextBackend) {
  // A listener with a full accept queue (backlog 0, one connection parked, never accepted):
  // the kernel drops further SYNs, so a connect to it hangs until our timeout.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(0, ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a));
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ASSERT_EQ(0, ::listen(fd, 0));
  std::vector<int> parked;
  for (int i = 0; i < 3; ++i) {
    int p = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(p, reinterpret_cast<sockaddr*>(&a), sizeof a);
    parked.push_back(p);
  }
  addStatic("blackhole", ntohs(a.sin_port));
  addBackend("live");
  ListenerOptions opts;
  opts.connectTimeoutMs = 200;
  startProxy(opts);
  TestClient& c = connectClient();
  auto start = uv_now(&loop_);
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return c.received.find('\n') != std::string::npos; }, 3000));
  EXPECT_EQ("live", greeting(c));
  EXPECT_GE(uv_now(&loop_) - start, 150u) << "the first attempt went to the black hole";
  EXPECT_EQ(1u, pool_.find("blackhole")->failures);
  for (int p : parked) ::close(p);
  ::close(fd);
}

TEST_F(ProxyTest, ClientThatAlreadySentDataGetsAnOrderlyCloseWhenNoBackendAnswers) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(0, ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a));
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ASSERT_EQ(0, ::listen(fd, 0));
  std::vector<int> parked;
  for (int i = 0; i < 3; ++i) {
    int p = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(p, reinterpret_cast<sockaddr*>(&a), sizeof a);
    parked.push_back(p);
  }
  addStatic("blackhole", ntohs(a.sin_port));
  ListenerOptions opts;
  opts.connectTimeoutMs = 300;
  startProxy(opts);
  TestClient& c = connectClient();
  ASSERT_TRUE(runUntil(&loop_, [&] { return c.connected; }));
  c.send("GET / HTTP/1.1\r\n\r\n");  // arrives while the proxy waits for the black hole
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return c.eof; }, 3000));
  EXPECT_FALSE(c.reset) << "an orderly close, not a reset";
  EXPECT_EQ(1u, listener_->stats().noBackend);
  for (int p : parked) ::close(p);
  ::close(fd);
}

TEST_F(ProxyTest, DrainingBackendKeepsOpenConnectionsButGetsNoNewOnes) {
  addBackend("a");
  addBackend("b");
  startProxy();
  TestClient& first = connectClient();
  ASSERT_TRUE(runUntil(&loop_, [&] { return first.received.find('\n') != std::string::npos; }));
  std::string drained = greeting(first);
  pool_.setState(drained, BackendState::kDraining);
  for (int i = 0; i < 4; ++i) {
    TestClient& c = connectClient();
    ASSERT_TRUE(runUntil(&loop_, [&] { return c.received.find('\n') != std::string::npos; }));
    EXPECT_NE(drained, greeting(c));
  }
  first.send("still there");
  ASSERT_TRUE(runUntil(&loop_, [&] { return first.received == drained + "\nstill there"; }));
  // Removed while a connection is open: that connection keeps its backend alive and working.
  pool_.remove(drained);
  first.send("!");
  ASSERT_TRUE(runUntil(&loop_, [&] { return first.received == drained + "\nstill there!"; }));
}

TEST_F(ProxyTest, HalfCloseReachesTheBackendAndItsAnswerStillArrives) {
  addBackend("a");
  startProxy();
  TestClient& c = connectClient();
  ASSERT_TRUE(runUntil(&loop_, [&] { return c.received == "a\n"; }));
  c.send("last words");
  c.shutdown();
  // The backend saw our FIN (it answers "bye" to it) and its data reached us before its FIN.
  ASSERT_TRUE(runUntil(&loop_, [&] { return c.eof; }));
  EXPECT_EQ("a\nlast wordsbye\n", c.received);
  EXPECT_FALSE(c.reset);
  ASSERT_TRUE(runUntil(&loop_, [&] { return listener_->stats().open == 0; }));
}

// A raw socket readable now (the test's own end of a connection, outside the loop).
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

TEST_F(ProxyTest, AServersLastAnswerAndItsCloseReachTheClientTogether) {
  // A server that answers and closes (HTTP/1.0, Connection: close): its answer and its FIN are
  // both in the proxy's socket when the proxy reads. The client must get them in one segment,
  // as from HAProxy: the moment the answer is readable, so is the end of the stream. Sent
  // apart, every short connection costs two segments more (the FIN and the client's ACK).
  int server = rawBackend();
  ASSERT_GE(server, 0);
  startProxy();
  int client = rawClient();
  ASSERT_GE(client, 0);
  ASSERT_EQ(5, ::send(client, "hello", 5, 0));
  ASSERT_TRUE(runUntil(&loop_, [&] { return readable(server); }));
  int conn = ::accept(server, nullptr, nullptr);
  ASSERT_GE(conn, 0);
  ASSERT_TRUE(runUntil(&loop_, [&] { return readable(conn); }));
  char buf[64];
  ASSERT_EQ(5, ::recv(conn, buf, sizeof buf, 0));  // read all: the close sends FIN, not RST
  ASSERT_EQ(6, ::send(conn, "answer", 6, 0));
  ASSERT_EQ(0, ::shutdown(conn, SHUT_WR));

  // Both reads right after the loop turn that made the answer readable (runUntil gives the
  // loop one more turn after its predicate holds, in which a FIN sent apart would also arrive).
  ssize_t answer = -1;
  ssize_t after = -1;
  ASSERT_TRUE(runUntil(&loop_, [&] {
    if (!readable(client)) return false;
    answer = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);
    after = ::recv(client, buf + 8, sizeof buf - 8, MSG_DONTWAIT);
    return true;
  }));
  ASSERT_EQ(6, answer);
  EXPECT_EQ("answer", std::string(buf, 6));
  EXPECT_EQ(0, after) << "the FIN came later, alone";
  ::close(client);
  ASSERT_TRUE(runUntil(&loop_, [&] { return listener_->stats().open == 0; }));
  ::close(conn);
  ::close(server);
}

TEST_F(ProxyTest, AnAnswerThatEndsWithACloseArrivesWholeAtASlowReader) {
  // The same answer-and-close, but long and read slowly: the last bytes and the FIN reach the
  // proxy while the client's socket is full, so they wait in the proxy, and the FIN must still
  // come after every byte, not before and not never.
  int server = rawBackend();
  ASSERT_GE(server, 0);
  ListenerOptions opts;
  opts.bufferSize = 1 << 20;  // reads as large as what waits in the socket, FIN included
  startProxy(opts);
  int client = rawClient(/*rcvbuf=*/4096);
  ASSERT_GE(client, 0);
  ASSERT_TRUE(runUntil(&loop_, [&] { return readable(server); }));
  int conn = ::accept(server, nullptr, nullptr);
  ASSERT_GE(conn, 0);

  const std::string answer = [] {
    std::string s(48 * 65536 + 40000, '\0');
    for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>('a' + i % 23);
    return s;
  }();
  size_t sent = 0;
  bool full = false;  // the server could send no more: every buffer on the way is full
  std::string got;
  bool eof = false;
  ASSERT_TRUE(runUntil(
      &loop_,
      [&] {
        if (sent < answer.size()) {
          ssize_t n = ::send(conn, answer.data() + sent, answer.size() - sent, MSG_DONTWAIT);
          if (n > 0) sent += static_cast<size_t>(n);
          full = full || n < 0;
          if (sent == answer.size()) ::shutdown(conn, SHUT_WR);
        }
        if (!full && sent < answer.size()) return false;  // the client reads nothing yet
        char buf[32768];
        ssize_t n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);  // a little each turn
        if (n > 0) got.append(buf, static_cast<size_t>(n));
        eof = eof || n == 0;
        return eof;
      },
      20000));
  EXPECT_EQ(answer.size(), got.size());
  EXPECT_TRUE(got == answer) << "bytes lost or out of order";
  ::close(client);
  ASSERT_TRUE(runUntil(&loop_, [&] { return listener_->stats().open == 0; }));
  ::close(conn);
  ::close(server);
}

TEST_F(ProxyTest, IdleConnectionsTimeOut) {
  addBackend("a");
  ListenerOptions opts;
  opts.idleTimeoutMs = 150;
  startProxy(opts);
  TestClient& c = connectClient();
  ASSERT_TRUE(runUntil(&loop_, [&] { return c.received == "a\n"; }));
  // Traffic keeps it open past the timeout...
  for (int i = 0; i < 4; ++i) {
    runFor(&loop_, 60);
    c.send("x");
  }
  EXPECT_FALSE(c.eof);
  // ...silence closes it.
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return c.eof; }, 2000));
  EXPECT_EQ(1u, listener_->stats().idleTimeouts);
}

TEST_F(ProxyTest, SlowReaderKeepsProxyMemoryBounded) {
  const uint64_t total = 64ull << 20;
  TestBackend& b = addBackend("flood", TestBackend::Mode::kFlood, total);
  startProxy();
  TestClient& c = connectClient(/*read=*/false);
  c.keepData = false;
  // The client reads nothing: back-pressure must reach the backend while the proxy holds
  // at most one buffer per direction.
  ASSERT_TRUE(runUntil(&loop_, [&] { return b.floodBlocked; }));
  runFor(&loop_, 50);
  EXPECT_TRUE(b.floodBlocked);
  EXPECT_LE(listener_->stats().buffersInUse, 2u);
  EXPECT_LT(b.flooded, 32ull << 20) << "the proxy swallowed far more than socket buffers";
  // A reader appears: everything arrives, then the backend's FIN.
  c.resumeReading();
  ASSERT_TRUE(runUntil(
      &loop_, [&] { return c.eof; }, 20000));
  EXPECT_EQ(total, c.receivedBytes);
  EXPECT_EQ(0u, listener_->stats().buffersInUse);
}

TEST_F(ProxyTest, MaxConnectionsPausesAccepting) {
  addBackend("a");
  ListenerOptions opts;
  opts.maxConnections = 1;
  startProxy(opts);
  TestClient& first = connectClient();
  ASSERT_TRUE(runUntil(&loop_, [&] { return first.received == "a\n"; }));
  TestClient& second = connectClient();
  runFor(&loop_, 100);
  EXPECT_EQ("", second.received) << "the second client waits in the kernel queue";
  EXPECT_TRUE(listener_->stats().acceptPaused);
  first.close();
  ASSERT_TRUE(runUntil(&loop_, [&] { return second.received == "a\n"; }));
}

TEST_F(ProxyTest, DrainLetsOpenConnectionsFinishThenCompletes) {
  addBackend("a");
  startProxy();
  TestClient& c = connectClient();
  ASSERT_TRUE(runUntil(&loop_, [&] { return c.received == "a\n"; }));
  bool drained = false;
  listener_->drain(5000, [&] { drained = true; });
  TestClient& late = connectClient();
  ASSERT_TRUE(runUntil(&loop_, [&] { return late.failed || late.eof; }));
  c.send("ok");
  ASSERT_TRUE(runUntil(&loop_, [&] { return c.received == "a\nok"; }));
  EXPECT_FALSE(drained);
  c.shutdown();
  ASSERT_TRUE(runUntil(&loop_, [&] { return drained; }));
  listener_.reset();
}

TEST_F(ProxyTest, DrainDeadlineClosesWhatIsStillOpen) {
  addBackend("a");
  startProxy();
  TestClient& c = connectClient();
  ASSERT_TRUE(runUntil(&loop_, [&] { return c.received == "a\n"; }));
  bool drained = false;
  listener_->drain(100, [&] { drained = true; });
  ASSERT_TRUE(runUntil(&loop_, [&] { return drained && c.eof; }));
  listener_.reset();
}

TEST(BalancerTest, LeastConnPrefersTheLeastLoadedAndRotatesTies) {
  Backend a, b, c;
  a.openConnections = 2;
  b.openConnections = 0;
  c.openConnections = 0;
  std::vector<Backend*> all{&a, &b, &c};
  LeastConn lc;
  auto any = [](const Backend&) { return true; };
  Backend* first = lc.pick(all, any);
  Backend* second = lc.pick(all, any);
  EXPECT_TRUE(first == &b || first == &c);
  EXPECT_TRUE(second == &b || second == &c);
  EXPECT_NE(first, second);
  EXPECT_EQ(&a, lc.pick(all, [&](const Backend& x) { return &x == &a; }));
  EXPECT_EQ(nullptr, lc.pick(all, [](const Backend&) { return false; }));
  RoundRobin rr;
  EXPECT_EQ(&a, rr.pick(all, any));
  EXPECT_EQ(&c, rr.pick(all, [&](const Backend& x) { return &x != &b; }));
  EXPECT_EQ(&a, rr.pick(all, any));
  EXPECT_EQ(nullptr, makeBalancer("random"));
}

}  // namespace
}  // namespace lb
