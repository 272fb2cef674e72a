// Black-box hostile-peer test (issue 10, attack 1, as it was found): three real nodes holding
// data, and a client that knows no secret hands each of them, through the public
// /ping?nodes=, the address of a fake peer that answers every request 409 EVICTED. Before the
// fix every node wiped itself in a loop. Now, with MESH_SECRET (the fake cannot prove its
// answers) and in an open mesh (one answer at an unknown address is no agreement): every node
// keeps its data, stays ready, lists no fake member, and the fake receives no record.
// The fake is a tiny HTTP/1.1 server on its own thread (poll(), one connection at a time).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "tests/mesh/harness.h"

namespace meshtest {
namespace {

// Answers every request with a canned 409 EVICTED (claiming to be `claimsToBe`) and counts the
// requests by path.
class FakeEvictor {
 public:
  explicit FakeEvictor(std::string claimsToBe) : claimsToBe_(std::move(claimsToBe)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~FakeEvictor() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string hostPort() const { return "127.0.0.1:" + std::to_string(port_); }
  int requests() const { return total_; }
  int requests(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& p : paths_) n += p == path ? 1 : 0;
    return n;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      serve(c);
      ::close(c);
    }
  }
  // One request (head, then Content-Length bytes of body), one answer, then close.
  void serve(int c) {
    std::string in;
    char buf[16384];
    size_t headEnd = std::string::npos;
    size_t need = 0;
    while (true) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) return;
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
      if (headEnd == std::string::npos) {
        headEnd = in.find("\r\n\r\n");
        if (headEnd == std::string::npos) continue;
        size_t cl = in.find("ontent-Length: ");
        if (cl != std::string::npos && cl < headEnd) need = std::stoul(in.substr(cl + 15));
      }
      if (in.size() >= headEnd + 4 + need) break;
    }
    size_t sp1 = in.find(' ');
    size_t sp2 = in.find_first_of(" ?", sp1 + 1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      paths_.push_back(in.substr(sp1 + 1, sp2 - sp1 - 1));
    }
    ++total_;
    std::string body = R"({"error":"EVICTED"})";
    std::string out =
        "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
        "X-Mesh-Error: EVICTED\r\nX-Mesh-Gc: 0\r\nX-Mesh-From: " +
        claimsToBe_ + "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body;
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::write(c, out.data() + off, out.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  std::string claimsToBe_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> total_{0};
  mutable std::mutex mu_;
  std::vector<std::string> paths_;
  std::thread thread_;
};

int deadline(int ms) {
  return sanitized() ? ms * 3 : ms;
}

void evictingFakeWipesNobody(const std::string& name, const std::string& secret) {
  Cluster c(name);
  if (!secret.empty()) c.commonEnv["MESH_SECRET"] = secret;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.addNode(i - 1), i);
  constexpr int kRecords = 200;
  for (int i = 0; i < kRecords; ++i) {
    ASSERT_EQ(c.node(i % 3).get("/set?k=r" + std::to_string(i) + "&v=1").status, 200);
  }
  auto count = [&](int n) {
    bool ok = false;
    return allPairs(c.node(n).get("/getAll"), &ok).size();
  };
  ASSERT_TRUE(waitFor(
      [&] {
        for (int n = 0; n < 3; ++n) {
          if (!statusReady(c.node(n).get("/status")) || count(n) != kRecords) return false;
        }
        return true;
      },
      deadline(15000)));
  // It even claims to be a real member (the first node's id).
  FakeEvictor fake(c.node(0).id());
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(c.node(n).get("/ping?nodes=" + fake.hostPort()).status, 200);
  }
  // Positive sign first: every node contacted the fake and refused what it said.
  const char* signal = secret.empty() ? "evictionClaimsIgnored" : "forgedAnswers";
  for (int n = 0; n < 3; ++n) {
    ASSERT_TRUE(
        waitFor([&] { return meshNumber(c.node(n).get("/status"), signal) >= 1; }, deadline(10000)))
        << c.node(n).get("/status").body;
  }
  // Then a few more probe rounds (the nodes keep probing what they learnt, or not).
  int seen = fake.requests();
  waitFor([&] { return fake.requests() >= seen + 3; }, 3000);
  for (int n = 0; n < 3; ++n) {
    auto s = c.node(n).get("/status");
    EXPECT_EQ(meshNumber(s, "wipes"), 0) << s.body;
    EXPECT_TRUE(statusReady(s)) << s.body;
    EXPECT_EQ(c.node(n).get("/healthcheck").status, 200);
    EXPECT_EQ(count(n), static_cast<size_t>(kRecords)) << "node " << n;
    EXPECT_EQ(s.body.find(fake.hostPort()), std::string::npos) << s.body;
    EXPECT_EQ(membersIn(s, "alive") + membersIn(s, "suspect"), 3) << s.body;
  }
  EXPECT_EQ(fake.requests("/_mesh/replicate"), 0);
}

TEST(MeshHostile, EvictingFakeHandedInThroughPublicPingWipesNobodyWithTheSecret) {
  evictingFakeWipesNobody("hostileSecret", "s3cret");
}

TEST(MeshHostile, EvictingFakeHandedInThroughPublicPingWipesNobodyInAnOpenMesh) {
  evictingFakeWipesNobody("hostileOpen", "");
}

}  // namespace
}  // namespace meshtest
