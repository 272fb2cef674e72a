// Component tests for stress::Runner (on the client library) against a tiny HTTP/1.1 server
// written here on the same libuv loop (port 0): keep-alive and per-request connections, errors
// by kind (bad status, dropped connection, timeout, refused), the lost-connection resend and
// --no-retry's never-resend, the time limit, open loop, and that every acknowledged /set really
// reached the server. Each test ends with the loop closing clean.
#include "tests/stress/runner.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/http/url.h"

namespace stress {
namespace {

// A deliberately small server: one request per "\r\n\r\n" (GET only, no body), answers from an
// in-memory map like a node would, with knobs to misbehave on every N-th request.
class TestServer {
 public:
  int errorEvery = 0;  // answer 500
  int dropEvery = 0;   // close the connection without answering
  int hangEvery = 0;   // never answer
  std::map<std::string, std::string> store;
  int requests = 0, connections = 0, drops = 0;
  std::map<std::string, std::string> lastQuery;

  explicit TestServer(uv_loop_t* loop) : loop_(loop) {
    uv_tcp_init(loop_, &listener_);
    listener_.data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    EXPECT_EQ(uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0), 0);
    EXPECT_EQ(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 1024, onConnection), 0);
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }

  void close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    std::set<Client*> open = clients_;  // closeClient erases from clients_
    for (Client* c : open) closeClient(c);
  }

  int port = 0;

 private:
  struct Client {
    uv_tcp_t tcp;
    TestServer* server;
    std::string in;
    bool closing = false;
  };
  struct Write {
    uv_write_t req;
    std::string data;
  };

  static void onConnection(uv_stream_t* s, int status) {
    auto* self = static_cast<TestServer*>(s->data);
    auto* c = new Client{};
    c->server = self;
    uv_tcp_init(self->loop_, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(s, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), onClientClose);
      return;
    }
    ++self->connections;
    self->clients_.insert(c);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t n, uv_buf_t* b) { *b = uv_buf_init(new char[n], n); }, onRead);
  }

  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<Client*>(s->data);
    if (n > 0) c->in.append(buf->base, n);
    delete[] buf->base;
    if (n < 0) {
      c->server->closeClient(c);
      return;
    }
    size_t end;
    while (!c->closing && (end = c->in.find("\r\n\r\n")) != std::string::npos) {
      std::string head = c->in.substr(0, end);
      c->in.erase(0, end + 4);
      c->server->handle(c, head);
    }
  }

  void handle(Client* c, const std::string& head) {
    int n = ++requests;
    if (dropEvery && n % dropEvery == 0) {
      ++drops;
      closeClient(c);
      return;
    }
    if (hangEvery && n % hangEvery == 0) return;
    bool close = head.find("Connection: close") != std::string::npos;
    size_t sp = head.find(' ');
    std::string target = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
    std::string path = target.substr(0, target.find('?'));
    std::map<std::string, std::string> q;
    if (target.find('?') != std::string::npos) {
      auto parsed = common::parseQuery(target.substr(target.find('?') + 1));
      if (parsed.ok()) {
        for (auto& p : *parsed) q[p.name] = p.value;
      }
    }
    lastQuery = q;
    int status = 200;
    std::string body = "{\"success\":true}";
    if (errorEvery && n % errorEvery == 0) {
      status = 500;
      body = "{\"success\":false,\"error\":\"INTERNAL\"}";
    } else if (path == "/set") {
      store[q["k"]] = q["v"];
    } else if (path == "/get" || path == "/is" || path == "/rm") {
      auto it = store.find(q["k"]);
      if (it == store.end()) {
        status = 404;
        body = "{\"success\":false,\"error\":\"MISSING_RECORD\"}";
      } else if (path == "/rm") {
        store.erase(it);
      }
    } else {
      status = 404;
    }
    auto* w = new Write{};
    w->data =
        "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Error") +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n" + body;
    uv_buf_t b = uv_buf_init(w->data.data(), w->data.size());
    w->req.data = w;
    uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &b, 1,
             [](uv_write_t* r, int) { delete static_cast<Write*>(r->data); });
    if (close) closeClient(c);
  }

  void closeClient(Client* c) {
    if (c->closing) return;
    c->closing = true;
    clients_.erase(c);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), onClientClose);
  }

  static void onClientClose(uv_handle_t* h) { delete static_cast<Client*>(h->data); }

  uv_loop_t* loop_;
  uv_tcp_t listener_{};
  std::set<Client*> clients_;
};

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override {
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a handle was left open";
  }

  RunOptions optionsFor(int port) {
    RunOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(port);
    o.mix = *parseMix("set=100");
    o.timeoutMs = 5000;
    o.maxTimeMs = 20000;
    o.sliceMs = 20;
    return o;
  }

  // Runs the runner to its end, then closes the server; returns false if `done` never fired.
  bool run(Runner& runner, TestServer* server) {
    bool done = false;
    runner.start([&] {
      done = true;
      if (server) server->close();
    });
    uv_run(&loop_, UV_RUN_DEFAULT);
    return done;
  }

  uv_loop_t loop_;
};

TEST_F(RunnerTest, KeepAliveRunSucceedsAndEveryAckedWriteReachedTheServer) {
  TestServer server(&loop_);
  RunOptions o = optionsFor(server.port);
  o.amount = 3000;
  o.connections = 20;
  o.sequentialKeys = true;
  o.valueSize = 24;
  Runner runner(&loop_, o);
  std::map<std::string, std::string> acked;
  runner.onAck([&](std::string_view k, std::string_view v) { acked[std::string(k)] = v; });
  ASSERT_TRUE(run(runner, &server));
  const Results& r = runner.results();
  EXPECT_EQ(r.issued, 3000u);
  EXPECT_EQ(r.succeeded, 3000u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.latencyUs.count(), 3000u);
  EXPECT_EQ(server.requests, 3000);
  EXPECT_EQ(server.connections, 20) << "keep-alive reuses one connection per worker";
  EXPECT_EQ(r.connectionsOpened, 20u);
  EXPECT_EQ(acked.size(), 3000u) << "sequential keys are all distinct";
  EXPECT_EQ(acked, server.store);
  EXPECT_EQ(acked.begin()->second.size(), 24u);
  EXPECT_GT(r.elapsedSec, 0);
  uint64_t sliced = 0;
  for (const Slice& s : r.slices) sliced += s.completed;
  EXPECT_EQ(sliced, 3000u) << "the time series accounts for every request";
}

TEST_F(RunnerTest, ExtraQueryReachesTheServerOnEveryRequest) {
  TestServer server(&loop_);
  RunOptions o = optionsFor(server.port);
  o.amount = 20;
  o.connections = 2;
  o.sequentialKeys = true;
  o.extraQuery = "w=quorum";
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, &server));
  EXPECT_EQ(runner.results().succeeded, 20u);
  EXPECT_EQ(server.lastQuery.count("w"), 1u);
  EXPECT_EQ(server.lastQuery["w"], "quorum");
  EXPECT_EQ(server.store.size(), 20u) << "k and v still parsed";
}

TEST_F(RunnerTest, NewConnectionPerRequestOpensOneConnectionEach) {
  TestServer server(&loop_);
  RunOptions o = optionsFor(server.port);
  o.amount = 200;
  o.connections = 8;
  o.keepAlive = false;
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, &server));
  EXPECT_EQ(runner.results().succeeded, 200u);
  EXPECT_EQ(runner.results().errors, 0u);
  EXPECT_EQ(server.connections, 200);
  EXPECT_EQ(runner.results().connectionsOpened, 200u);
}

TEST_F(RunnerTest, PipeliningKeepsSeveralRequestsInFlightOnEachConnection) {
  TestServer server(&loop_);
  RunOptions o = optionsFor(server.port);
  o.amount = 400;
  o.connections = 2;
  o.pipeline = 4;
  o.sequentialKeys = true;
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, &server));
  EXPECT_EQ(runner.results().succeeded, 400u);
  EXPECT_EQ(server.store.size(), 400u);
  EXPECT_EQ(server.connections, 2) << "8 in flight, still over the 2 connections";
}

TEST_F(RunnerTest, BadStatusesAreErrorsButMissesAreAnswers) {
  TestServer server(&loop_);
  server.errorEvery = 10;
  RunOptions o = optionsFor(server.port);
  o.amount = 1000;
  o.connections = 10;
  o.mix = *parseMix("set=1,get=1,is=1");
  o.keySpace = 50;
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, &server));
  const Results& r = runner.results();
  EXPECT_EQ(r.errors, 100u);
  ASSERT_EQ(r.errorsByKind.size(), 1u);
  EXPECT_EQ(r.errorsByKind.at("http_500"), 100u);
  EXPECT_EQ(r.succeeded, 900u);
  EXPECT_GT(r.notFound, 0u) << "gets of keys never set answer 404";
  EXPECT_GT(r.byOp[static_cast<size_t>(Op::kGet)], 200u);
  EXPECT_EQ(r.byOp[static_cast<size_t>(Op::kRm)], 0u);
}

TEST_F(RunnerTest, DroppedConnectionsAreErrorsWithoutRetry) {
  TestServer server(&loop_);
  server.dropEvery = 7;
  RunOptions o = optionsFor(server.port);
  o.amount = 700;
  o.connections = 5;
  o.retryStale = false;
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, &server));
  const Results& r = runner.results();
  EXPECT_EQ(r.errors, static_cast<uint64_t>(server.drops));
  EXPECT_EQ(r.errorsByKind.at("connection_lost"), static_cast<uint64_t>(server.drops));
  EXPECT_EQ(r.succeeded + r.errors, 700u);
  EXPECT_EQ(r.staleRetries, 0u);
}

TEST_F(RunnerTest, ARequestOnAStaleKeepAliveConnectionIsResentOnce) {
  TestServer server(&loop_);
  server.dropEvery = 7;
  RunOptions o = optionsFor(server.port);
  o.amount = 700;
  o.connections = 5;
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, &server));
  const Results& r = runner.results();
  // Every drop is either retried (it hit a reused connection) or counted as an error.
  EXPECT_EQ(r.errors + r.staleRetries, static_cast<uint64_t>(server.drops));
  EXPECT_GT(r.staleRetries, 0u);
  EXPECT_EQ(r.succeeded + r.errors, 700u);
}

TEST_F(RunnerTest, ASilentServerTimesOut) {
  TestServer server(&loop_);
  server.hangEvery = 5;
  RunOptions o = optionsFor(server.port);
  o.amount = 50;
  o.connections = 5;
  o.timeoutMs = 100;
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, &server));
  const Results& r = runner.results();
  EXPECT_EQ(r.errorsByKind.at("timeout"), 10u);
  EXPECT_EQ(r.succeeded, 40u);
}

TEST_F(RunnerTest, ARefusedConnectionIsAnErrorAndTheRunStillEnds) {
  int port;
  {  // a port nobody listens on: bind, read it back, close
    uv_tcp_t t;
    uv_tcp_init(&loop_, &t);
    sockaddr_in a{};
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&t, reinterpret_cast<const sockaddr*>(&a), 0);
    sockaddr_storage b{};
    int len = sizeof b;
    uv_tcp_getsockname(&t, reinterpret_cast<sockaddr*>(&b), &len);
    port = ntohs(reinterpret_cast<sockaddr_in*>(&b)->sin_port);
    uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  RunOptions o = optionsFor(port);
  o.amount = 30;
  o.connections = 3;
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, nullptr));
  EXPECT_EQ(runner.results().errors, 30u);
  EXPECT_EQ(runner.results().errorsByKind.at("unavailable"), 30u);
  EXPECT_EQ(runner.results().latencyUs.count(), 0u);
}

TEST_F(RunnerTest, TheTimeLimitStopsAnEndlessRun) {
  TestServer server(&loop_);
  RunOptions o = optionsFor(server.port);
  o.amount = 1000000000;
  o.connections = 4;
  o.maxTimeMs = 200;
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, &server));
  const Results& r = runner.results();
  EXPECT_NE(r.stopReason.find("time limit"), std::string::npos);
  EXPECT_LT(r.issued, o.amount);
  EXPECT_GT(r.succeeded, 0u);
  EXPECT_LE(r.errorsByKind.count("aborted") ? r.errorsByKind.at("aborted") : 0, 4u);
  EXPECT_GE(r.elapsedSec, 0.19);
  EXPECT_LT(r.elapsedSec, 5.0);
}

TEST_F(RunnerTest, OpenLoopSendsAtTheRateNotAsFastAsItCan) {
  TestServer server(&loop_);
  RunOptions o = optionsFor(server.port);
  o.amount = 100;
  o.connections = 8;
  o.rate = 200;  // 100 requests due over 0.495 s
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, &server));
  const Results& r = runner.results();
  EXPECT_EQ(r.succeeded, 100u);
  EXPECT_GE(r.elapsedSec, 0.49) << "the last request is due at 99 / 200 s";
  EXPECT_LT(r.elapsedSec, 5.0);
}

TEST_F(RunnerTest, OpenLoopCountsLatencyFromWhenARequestWasDue) {
  // One connection, and the server never answers the 2nd request: the requests due while the
  // connection waits for its 500 ms timeout could not be sent, and their latency includes that
  // wait (a closed-loop tool would time them from the late send and show them fast).
  TestServer server(&loop_);
  server.hangEvery = 2;
  RunOptions o = optionsFor(server.port);
  o.amount = 3;
  o.connections = 1;
  o.rate = 100;  // due at 0, 10 and 20 ms
  o.timeoutMs = 500;
  Runner runner(&loop_, o);
  ASSERT_TRUE(run(runner, &server));
  const Results& r = runner.results();
  EXPECT_EQ(r.errorsByKind.count("timeout"), 1u);
  EXPECT_EQ(r.succeeded, 2u);
  EXPECT_EQ(r.latencyUs.count(), 2u);
  // The 3rd request, due at 20 ms, went out after the 2nd timed out at >= 510 ms.
  EXPECT_GE(r.latencyUs.max(), 480000u);
}

}  // namespace
}  // namespace stress
