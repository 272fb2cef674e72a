// Tests of common::http::Server over real loopback sockets: what a client notices (status
// lines, framing, order of pipelined answers, connections closed or kept) under good and bad
// clients. The server runs on a LoopThread; every test ends with a clean loop close.
#include "common/http/server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/testing/loop_thread.h"

namespace common::http {
namespace {

using common::testing::connectTo;
using common::testing::LoopThread;
using common::testing::readResponses;
using common::testing::readUntilClose;
using common::testing::sendAll;

template <typename Pred>
bool eventually(Pred pred, int timeoutMs = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::yield();
  }
  return pred();
}

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions opts = {}) {
    loop_.post([&] {
      server_ = std::make_unique<Server>(loop_.loop(), opts);
      server_->route("/echo", [](const Request& req, Responder r) {
        r.respond(200, "\"" + std::string(req.query) + "\"");
      });
      server_->route("/later", [this](const Request& req, Responder r) { parked_.push_back(r); });
      server_->route("/stream", [this](const Request& req, Responder r) {
        r.stream(200, std::make_unique<Counter>(this, streamPieces_));
      });
      server_->route("/live", [this](const Request&, Responder r) {
        auto feed = std::make_unique<Feed>();
        feeds_.push_back({feed.get(), r});
        r.stream(200, std::move(feed), "text/event-stream");
      });
      // Answers with the size of the body it got; takes up to 1 MiB.
      server_->route(
          "/big",
          [this](const Request& req, Responder r) {
            ++bodiesSeen_;
            r.respond(200, std::to_string(req.body.size()));
          },
          RouteOptions{.maxBodyBytes = 1u << 20});
      // A subtree: answers with the path it got; takes up to 16 bytes of body.
      server_->routeTree(
          "/tree", [](const Request& req, Responder r) { r.respond(200, std::string(req.path)); },
          RouteOptions{.maxBodyBytes = 16});
      // Refuses every request at its head, like the mesh without a valid signature.
      server_->route(
          "/locked",
          [this](const Request&, Responder r) {
            ++bodiesSeen_;
            r.respond(200, "{}");
          },
          RouteOptions{.admit = [](const Request& head) {
            return head.header("x-key") == "open" ? Refusal{} : Refusal{401, "MESH_AUTH_FAILED"};
          }});
      ASSERT_EQ(server_->listen("127.0.0.1", 0), 0);
      port_ = server_->port();
    });
  }
  void TearDown() override {
    EXPECT_EQ(loop_.stop([&](std::function<void()> done) {
      if (!server_) return done();
      server_->close(done);
    }),
              0);
  }

  struct Counter : BodyProducer {
    Counter(ServerTest* t, int pieces) : test(t), left(pieces) {}
    bool produce(std::string& out, size_t budget) override {
      out.append(budget, 'x');
      test->produced_ += budget;
      return --left > 0;
    }
    ServerTest* test;
    int left;
  };

  // A live stream: sends what was queued, pauses when empty, ends after "end".
  struct Feed : BodyProducer {
    bool produce(std::string& out, size_t) override {
      ++pulls;
      out.append(queued);
      bool last = queued.find("end") != std::string::npos;
      queued.clear();
      return !last;
    }
    bool paused() const override { return queued.empty(); }
    std::string queued;
    int pulls = 0;
  };
  struct FeedHandle {
    Feed* feed;
    Responder r;
  };

  // Starts a server whose drain and close deadlines never pass during a test, answers one
  // request on a keep-alive connection (returned), then calls close(); `closed` turns true
  // once the server is closed.
  int oneRequestThenClose(uint64_t drainIdleMs, std::atomic<bool>& closed) {
    ServerOptions o;
    o.drainIdleMs = drainIdleMs;
    o.drainTimeoutMs = o.closeTimeoutMs = 60000;
    start(o);
    int fd = connectTo(port_);
    EXPECT_TRUE(sendAll(fd, "GET /echo?a HTTP/1.1\r\n\r\n"));
    EXPECT_NE(readResponses(fd, 1).find("Connection: keep-alive"), std::string::npos);
    loop_.post([&] { server_->close([&] { closed = true; }); });
    return fd;
  }

  LoopThread loop_;
  std::unique_ptr<Server> server_;
  std::vector<Responder> parked_;
  std::vector<FeedHandle> feeds_;  // loop thread only
  std::atomic<size_t> produced_{0};
  std::atomic<int> bodiesSeen_{0};
  int streamPieces_ = 3;
  int port_ = 0;
};

TEST_F(ServerTest, AnswersWithLengthTypeAndKeepsAlive) {
  start();
  int fd = connectTo(port_);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(sendAll(fd, "GET /echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string r = readResponses(fd, 1);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    EXPECT_NE(r.find("Content-Type: application/json\r\n"), std::string::npos);
    EXPECT_NE(r.find("Content-Length: 5\r\n"), std::string::npos);
    EXPECT_NE(r.find("\r\n\r\n\"a=1\""), std::string::npos);
  }
  ::close(fd);
}

TEST_F(ServerTest, HeldAnswersLeaveOnlyWhenTheOwnerFlushesThem) {
  // The node's use (holdAnswers): a write's replication batch must be on its way before the
  // client holds the write's acknowledgement. Here the owner's end of turn (a uv_check_t, as the
  // WriteLog's) writes a byte to a side socket, then flushes the answers; when an answer reaches
  // the client, that byte must already be readable (the kernel delivers writes on a socket pair
  // at once, so the order of the two writes is the order seen).
  int side[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, side), 0);
  std::atomic<int> turns{0};
  struct Owner {
    int sideFd;
    Server* server;
  } owner{side[0], nullptr};
  uv_check_t endOfTurn;
  loop_.post([&] {
    ServerOptions opts;
    opts.holdAnswers = true;
    server_ = std::make_unique<Server>(loop_.loop(), opts);
    server_->route("/echo", [](const Request& req, Responder r) { r.respond(200, "\"x\""); });
    ASSERT_EQ(server_->listen("127.0.0.1", 0), 0);
    port_ = server_->port();
    owner.server = server_.get();
    uv_check_init(loop_.loop(), &endOfTurn);
    endOfTurn.data = &owner;
    uv_check_start(&endOfTurn, [](uv_check_t* h) {
      auto* o = static_cast<Owner*>(h->data);
      if (!o->server->holdsAnswers()) return;
      ASSERT_EQ(::write(o->sideFd, "b", 1), 1);
      o->server->flushHeldAnswers();
    });
  });
  int fd = connectTo(port_);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(sendAll(fd,
                        "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n"
                        "GET /echo HTTP/1.1\r\nHost: t\r\n\r\n"));
    std::string got = readResponses(fd, 2);
    ASSERT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
    char c[64];
    EXPECT_GE(recv(side[1], c, sizeof c, MSG_DONTWAIT), 1)
        << "an answer left before its turn ended";
    while (recv(side[1], c, sizeof c, MSG_DONTWAIT) > 0) {
    }
    ++turns;
  }
  EXPECT_EQ(turns.load(), 3);
  // The handle lives on this stack: wait for its close callback before the frame goes.
  std::function<void()> closed;
  loop_.postAsync([&](std::function<void()> done) {
    closed = std::move(done);
    endOfTurn.data = &closed;
    uv_close(reinterpret_cast<uv_handle_t*>(&endOfTurn),
             [](uv_handle_t* h) { (*static_cast<std::function<void()>*>(h->data))(); });
  });
  ::close(fd);
  ::close(side[0]);
  ::close(side[1]);
}

TEST_F(ServerTest, AnyMethodIsServedAndUnknownPathsAre404) {
  start();
  int fd = connectTo(port_);
  ASSERT_TRUE(sendAll(
      fd, "POST /echo?m HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcDELETE /nope HTTP/1.1\r\n\r\n"));
  std::string r = readResponses(fd, 2);
  EXPECT_NE(r.find("\"m\""), std::string::npos) << r;
  EXPECT_NE(r.find("HTTP/1.1 404 Not Found"), std::string::npos);
  EXPECT_NE(r.find("{\"error\":\"UNKNOWN_ROUTE\"}"), std::string::npos);
  ::close(fd);
}

TEST_F(ServerTest, PipelinedAnswersKeepRequestOrderEvenWhenAnsweredLater) {
  start();
  int fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd,
                      "GET /echo?1 HTTP/1.1\r\n\r\nGET /later HTTP/1.1\r\n\r\n"
                      "GET /echo?3 HTTP/1.1\r\n\r\n"));
  // the first answer arrives; the third waits behind the parked second one
  std::string first = readResponses(fd, 1, 2000);
  EXPECT_NE(first.find("\"1\""), std::string::npos);
  EXPECT_EQ(first.find("\"3\""), std::string::npos);
  ASSERT_TRUE(eventually([&] {
    bool parked = false;
    loop_.post([&] { parked = !parked_.empty(); });
    return parked;
  }));
  loop_.post([&] { parked_[0].respond(201, "\"2\""); });
  std::string rest = first + readResponses(fd, 2);
  size_t p1 = rest.find("\"1\""), p2 = rest.find("\"2\""), p3 = rest.find("\"3\"");
  ASSERT_NE(p3, std::string::npos) << rest;
  EXPECT_LT(p1, p2);
  EXPECT_LT(p2, p3);
  ::close(fd);
}

TEST_F(ServerTest, Http10WithoutKeepAliveIsClosedAfterTheAnswer) {
  start();
  int fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd, "GET /echo?x HTTP/1.0\r\n\r\n"));
  bool closed = false;
  std::string r = readUntilClose(fd, 5000, &closed);
  EXPECT_TRUE(closed);
  EXPECT_NE(r.find("Connection: close"), std::string::npos);
  EXPECT_NE(r.find("\"x\""), std::string::npos);
  ::close(fd);
}

TEST_F(ServerTest, MalformedRequestGets400AndTheConnectionCloses) {
  start();
  int fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd, "THIS IS NOT HTTP\r\n\r\n"));
  bool closed = false;
  std::string r = readUntilClose(fd, 5000, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r;
  EXPECT_NE(r.find("{\"error\":\"BAD_REQUEST\"}"), std::string::npos);
  ::close(fd);
}

TEST_F(ServerTest, OversizedHeadersGet431AndLongUrls414) {
  start();
  int fd = connectTo(port_);
  std::string big = "GET /echo HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
  ASSERT_TRUE(sendAll(fd, big));
  bool closed = false;
  std::string r = readUntilClose(fd, 5000, &closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 431 ", 0), 0u) << r.substr(0, 80);
  EXPECT_TRUE(closed);
  ::close(fd);
  fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd, "GET /echo?" + std::string(8300, 'a') + " HTTP/1.1\r\n\r\n"));
  r = readUntilClose(fd, 5000, &closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 414 ", 0), 0u) << r.substr(0, 80);
  ::close(fd);
}

TEST_F(ServerTest, SlowRequestIsClosedAfterTheHeaderTimeout) {
  ServerOptions o;
  o.headerTimeoutMs = 200;
  start(o);
  int fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd, "GET /echo HTTP/1.1\r\nX-Slow: "));
  bool closed = false;
  auto t0 = std::chrono::steady_clock::now();
  readUntilClose(fd, 5000, &closed);
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  ::close(fd);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerOptions o;
  o.keepAliveTimeoutMs = 200;
  start(o);
  int fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd, "GET /echo HTTP/1.1\r\n\r\n"));
  bool closed = false;
  std::string r = readUntilClose(fd, 5000, &closed);
  EXPECT_NE(r.find("200 OK"), std::string::npos);
  EXPECT_TRUE(closed);
  ::close(fd);
}

TEST_F(ServerTest, StreamsChunkedBodies) {
  start();
  int fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd, "GET /stream HTTP/1.1\r\n\r\nGET /echo?after HTTP/1.1\r\n\r\n"));
  std::string r = readResponses(fd, 2);
  EXPECT_NE(r.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_NE(r.find("10000\r\n"), std::string::npos);  // 64 KiB pieces
  EXPECT_NE(r.find("0\r\n\r\n"), std::string::npos);
  EXPECT_NE(r.find("\"after\""), std::string::npos);
  EXPECT_GT(r.find("\"after\""), r.find("0\r\n\r\n"));
  ::close(fd);
}

TEST_F(ServerTest, PausedStreamWaitsForResumeThenSendsAndEnds) {
  start();
  int fd = connectTo(port_);
  timeval tv{5, 0};  // a missing event fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_TRUE(sendAll(fd, "GET /live HTTP/1.1\r\n\r\n"));
  std::string got;
  auto readSome = [&](std::string_view want) {
    char buf[4096];
    while (got.find(want) == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      got.append(buf, static_cast<size_t>(n));
    }
    return true;
  };
  ASSERT_TRUE(readSome("\r\n\r\n"));  // the head goes out before any event
  EXPECT_NE(got.find("text/event-stream"), std::string::npos);
  int pulls = 0;
  loop_.post([&] { pulls = feeds_.at(0).feed->pulls; });
  EXPECT_LE(pulls, 2);  // once with the head, maybe once more when it was written; no spin
  loop_.post([&] {
    feeds_[0].feed->queued = "hello";
    feeds_[0].r.resume();
  });
  ASSERT_TRUE(readSome("5\r\nhello\r\n"));
  loop_.post([&] {
    feeds_[0].feed->queued = "end";
    feeds_[0].r.resume();
  });
  ASSERT_TRUE(readSome("3\r\nend\r\n0\r\n\r\n"));
  ::close(fd);
}

TEST_F(ServerTest, ClientThatNeverReadsDoesNotGrowServerMemory) {
  streamPieces_ = 1 << 30;  // "infinite"
  start();
  int fd = connectTo(port_);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_TRUE(sendAll(fd, "GET /stream HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return produced_.load() > 0; }));
  // The producer must stall at about the watermark plus kernel buffers, far below 64 MiB.
  EXPECT_FALSE(eventually([&] { return produced_.load() > (64u << 20); }, 1000));
  EXPECT_LT(produced_.load(), 16u << 20);
  ::close(fd);
}

TEST_F(ServerTest, AtMaxConnectionsAcceptingWaitsInsteadOfFailing) {
  ServerOptions o;
  o.maxConnections = 2;
  start(o);
  int a = connectTo(port_), b = connectTo(port_);
  ASSERT_TRUE(sendAll(a, "GET /echo?a HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(sendAll(b, "GET /echo?b HTTP/1.1\r\n\r\n"));
  ASSERT_NE(readResponses(a, 1).find("\"a\""), std::string::npos);
  ASSERT_NE(readResponses(b, 1).find("\"b\""), std::string::npos);
  int c = connectTo(port_);  // the kernel completes the handshake; the server does not accept
  ASSERT_GE(c, 0);
  ASSERT_TRUE(sendAll(c, "GET /echo?c HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(readResponses(c, 1, 300).find("\"c\""), std::string::npos);
  ::close(a);  // a slot frees: c is served
  EXPECT_NE(readResponses(c, 1).find("\"c\""), std::string::npos);
  ::close(b);
  ::close(c);
}

TEST_F(ServerTest, CloseFinishesAnsweredRequestsThenReleasesEverything) {
  start();
  int fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd, "GET /later HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(eventually([&] {
    bool parked = false;
    loop_.post([&] { parked = !parked_.empty(); });
    return parked;
  }));
  std::atomic<bool> closed{false};
  loop_.post([&] {
    server_->close([&] { closed = true; });
    parked_[0].respond(200, "\"done\"");
  });
  bool eof = false;
  std::string r = readUntilClose(fd, 5000, &eof);
  EXPECT_NE(r.find("\"done\""), std::string::npos);
  EXPECT_TRUE(eof);
  EXPECT_TRUE(eventually([&] { return closed.load(); }));
  EXPECT_GT(connectTo(port_), -2);  // (listener is gone; connecting may fail: no crash)
  ::close(fd);
}

TEST_F(ServerTest, CloseAnswersRequestsThatRaceTheDrainWithConnectionClose) {
  // A busy keep-alive client (and a proxy that picked this server a moment ago) may already
  // have its next request on the wire when close() starts: it gets an answer, not a reset.
  std::atomic<bool> closed{false};
  int fd = oneRequestThenClose(60000, closed);  // the connection counts as busy throughout
  int late = connectTo(port_);                  // accepted while draining
  ASSERT_GE(late, 0);
  ASSERT_TRUE(sendAll(late, "GET /echo?late HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(sendAll(fd, "GET /echo?b HTTP/1.1\r\n\r\n"));
  for (auto [sock, want] : {std::pair{fd, "\"b\""}, std::pair{late, "\"late\""}}) {
    bool eof = false;
    std::string r = readUntilClose(sock, 5000, &eof);
    EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
    EXPECT_NE(r.find(want), std::string::npos) << r;
    EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
    EXPECT_TRUE(eof);
    ::close(sock);  // ends the server's linger
  }
  EXPECT_TRUE(eventually([&] { return closed.load(); }));  // none left: the listener closed
}

TEST_F(ServerTest, CloseShutsIdleConnectionsWithoutWaitingForTheDrainDeadline) {
  std::atomic<bool> closed{false};
  int fd = oneRequestThenClose(0, closed);  // every idle connection counts as idle long enough
  bool eof = false;
  EXPECT_EQ(readUntilClose(fd, 5000, &eof), "");
  EXPECT_TRUE(eof);
  ::close(fd);
  EXPECT_TRUE(eventually([&] { return closed.load(); }));
}

std::string postHead(std::string_view path, size_t contentLength, std::string_view extra = "") {
  return "POST " + std::string(path) + " HTTP/1.1\r\n" + std::string(extra) +
         "Content-Length: " + std::to_string(contentLength) + "\r\n\r\n";
}

// What a client sees after sending only a request head: the answer, and the connection closed.
std::string answerToHead(int port, const std::string& head) {
  int fd = connectTo(port);
  EXPECT_TRUE(sendAll(fd, head));
  bool closed = false;
  std::string r = readUntilClose(fd, 5000, &closed);
  EXPECT_TRUE(closed) << r;
  ::close(fd);
  return r;
}

TEST_F(ServerTest, BodyOverTheRouteLimitIs413WithoutWaitingForIt) {
  start();  // the default limit (8 KiB) for /echo, 1 MiB for /big
  std::string r = answerToHead(port_, postHead("/echo", 100u << 20));  // no body byte sent
  EXPECT_EQ(r.rfind("HTTP/1.1 413 ", 0), 0u) << r;
  EXPECT_NE(r.find("{\"error\":\"PAYLOAD_TOO_LARGE\"}"), std::string::npos) << r;
  r = answerToHead(port_, postHead("/big", (1u << 20) + 1));
  EXPECT_EQ(r.rfind("HTTP/1.1 413 ", 0), 0u) << r;
  r = answerToHead(port_, postHead("/nope", 8193));  // unknown routes: the default too
  EXPECT_EQ(r.rfind("HTTP/1.1 413 ", 0), 0u) << r;
  EXPECT_EQ(bodiesSeen_.load(), 0);
}

TEST_F(ServerTest, RouteWithALargerLimitTakesALargeBody) {
  start();
  int fd = connectTo(port_);
  const std::string body(900 * 1024, 'v');
  ASSERT_TRUE(sendAll(fd, postHead("/big", body.size()) + body));
  std::string r = readResponses(fd, 1);
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r.substr(0, 80);
  EXPECT_NE(r.find("\r\n\r\n921600"), std::string::npos) << r;
  ::close(fd);
  // ... and a small one on a default route still works on a kept-alive connection.
  fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd, postHead("/echo?k", 8192) + std::string(8192, 'x')));
  EXPECT_NE(readResponses(fd, 1).find("200 OK"), std::string::npos);
  ::close(fd);
}

TEST_F(ServerTest, AdmitRefusalAnswersAtTheHeadAndReadsNoBody) {
  start();
  // 64 MiB declared, nothing sent: the refusal comes from the head alone.
  std::string r = answerToHead(port_, postHead("/locked", 64u << 20));
  EXPECT_EQ(r.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Connection: close"), std::string::npos) << r;
  EXPECT_NE(r.find("{\"error\":\"MESH_AUTH_FAILED\"}"), std::string::npos) << r;
  // Expect: 100-continue is not answered with 100 for a refused request.
  r = answerToHead(port_, postHead("/locked", 10, "Expect: 100-continue\r\n"));
  EXPECT_EQ(r.rfind("HTTP/1.1 401 ", 0), 0u) << r;
  EXPECT_EQ(bodiesSeen_.load(), 0);
  // Admitted: read and handled as usual.
  int fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd, postHead("/locked", 2, "X-Key: open\r\n") + "ok"));
  ASSERT_TRUE(eventually([&] { return bodiesSeen_.load() == 1; }));
  ::close(fd);
}

TEST_F(ServerTest, ATreeRouteTakesItsRootAndEverythingUnderItWithItsBodyLimit) {
  start();
  int fd = connectTo(port_);
  ASSERT_TRUE(sendAll(fd,
                      "GET /tree HTTP/1.1\r\n\r\nGET /tree/a/b?q HTTP/1.1\r\n\r\n"
                      "GET /treex HTTP/1.1\r\n\r\nGET /tree/ HTTP/1.1\r\n\r\n"));
  std::string r = readResponses(fd, 4);
  EXPECT_NE(r.find("\r\n\r\n/tree"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\n/tree/a/b"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\n\r\n/tree/"), std::string::npos) << r;
  EXPECT_NE(r.find("UNKNOWN_ROUTE"), std::string::npos) << r;  // /treex is not under /tree
  ::close(fd);
  r = answerToHead(port_, postHead("/tree/k", 17));
  EXPECT_EQ(r.rfind("HTTP/1.1 413 ", 0), 0u) << r;
}

TEST_F(ServerTest, UnfinishedBodiesOverTheServerCapGet503AndAreFreed) {
  ServerOptions o;
  o.maxPendingBodyBytes = 256 * 1024;
  start(o);
  auto pending = [&] {
    size_t n = 0;
    loop_.post([&] { n = server_->pendingBodyBytes(); });
    return n;
  };
  int a = connectTo(port_);  // holds 150 KiB of a 200 KiB body, and stalls
  ASSERT_TRUE(sendAll(a, postHead("/big", 200 * 1024) + std::string(150 * 1024, 'a')));
  ASSERT_TRUE(eventually([&] { return pending() >= 150u * 1024; }));
  int b = connectTo(port_);  // another 120 KiB would pass the cap
  ASSERT_TRUE(sendAll(b, postHead("/big", 200 * 1024) + std::string(120 * 1024, 'b')));
  bool closed = false;
  std::string r = readUntilClose(b, 5000, &closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 503 ", 0), 0u) << r;
  EXPECT_NE(r.find("{\"error\":\"BODY_MEMORY_FULL\"}"), std::string::npos) << r;
  EXPECT_TRUE(closed);
  ::close(b);
  EXPECT_LE(pending(), 200u * 1024);  // b's bytes went back at once; a's are still held
  ::close(a);                         // a client gone mid-body gives its share back too
  EXPECT_TRUE(eventually([&] { return pending() == 0; }));
  EXPECT_EQ(bodiesSeen_.load(), 0);
}

TEST_F(ServerTest, ChunkDataPastItsSizeIs400AndHttp9Is505) {
  start();
  std::string r = answerToHead(
      port_, "POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello12345\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400 ", 0), 0u) << r;
  r = answerToHead(port_, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 413 ", 0), 0u) << r;  // a 64 KiB chunk on an 8 KiB route
  r = answerToHead(port_, "GET /echo HTTP/9.9\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 505 HTTP Version Not Supported\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("{\"error\":\"HTTP_VERSION_NOT_SUPPORTED\"}"), std::string::npos) << r;
  EXPECT_EQ(bodiesSeen_.load(), 0);
}

}  // namespace
}  // namespace common::http
