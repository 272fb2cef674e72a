// Tests for common::http::Client against a deliberately tiny HTTP/1.1 server written here on
// libuv (TCP on port 0, or a unix socket): it answers a few fixed paths, keeps connections
// alive, and can hold a chunked response open so the test pushes pieces of it on demand.
// Each test owns its loop and ends with every handle closed and uv_loop_close() == 0.
#include "common/http/client.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <unistd.h>

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>

namespace common::http {
namespace {

// ---- a minimal fake server ---------------------------------------------------------------------

class FakeServer {
 public:
  explicit FakeServer(uv_loop_t* loop) : loop_(loop) {}

  int listenTcp() {
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(loop_, tcp);
    listener_ = reinterpret_cast<uv_stream_t*>(tcp);
    listener_->data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    EXPECT_EQ(0, uv_tcp_bind(tcp, reinterpret_cast<sockaddr*>(&addr), 0));
    EXPECT_EQ(0, uv_listen(listener_, 1024, &FakeServer::onConnection));
    sockaddr_storage ss{};
    int len = sizeof ss;
    uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&ss), &len);
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }

  void listenUnix(const std::string& path) {
    auto* pipe = new uv_pipe_t;
    uv_pipe_init(loop_, pipe, 0);
    listener_ = reinterpret_cast<uv_stream_t*>(pipe);
    listener_->data = this;
    ::unlink(path.c_str());
    EXPECT_EQ(0, uv_pipe_bind(pipe, path.c_str()));
    EXPECT_EQ(0, uv_listen(listener_, 1024, &FakeServer::onConnection));
  }

  // Sends one chunk to every open /stream response; end = the terminating chunk.
  void push(const std::string& data) {
    for (auto& c : conns_) {
      if (c->streaming) write(c.get(), chunk(data));
    }
  }
  void endStreams() {
    for (auto& c : conns_) {
      if (c->streaming) {
        c->streaming = false;
        write(c.get(), "0\r\n\r\n");
      }
    }
  }

  void close() {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), [](uv_handle_t* h) {
      if (h->type == UV_TCP) {
        delete reinterpret_cast<uv_tcp_t*>(h);
      } else {
        delete reinterpret_cast<uv_pipe_t*>(h);
      }
    });
    for (auto& c : conns_) closeConn(c.get());
  }

  int accepted = 0;
  int requests = 0;
  int closedByPeer = 0;
  int openStreams() const {
    int n = 0;
    for (auto& c : conns_) n += c->streaming && !c->closing ? 1 : 0;
    return n;
  }
  std::string lastRequestHead;

 private:
  struct Conn {
    FakeServer* server;
    uv_stream_t* stream;
    std::string in;
    bool streaming = false;
    bool closing = false;
  };

  static std::string chunk(const std::string& data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + data + "\r\n";
  }

  static void onConnection(uv_stream_t* l, int status) {
    auto* self = static_cast<FakeServer*>(l->data);
    if (status < 0) return;
    uv_stream_t* s;
    if (l->type == UV_TCP) {
      auto* tcp = new uv_tcp_t;
      uv_tcp_init(self->loop_, tcp);
      s = reinterpret_cast<uv_stream_t*>(tcp);
    } else {
      auto* pipe = new uv_pipe_t;
      uv_pipe_init(self->loop_, pipe, 0);
      s = reinterpret_cast<uv_stream_t*>(pipe);
    }
    self->conns_.push_back(std::make_unique<Conn>(Conn{self, s, {}}));
    s->data = self->conns_.back().get();
    uv_accept(l, s);
    ++self->accepted;
    uv_read_start(
        s,
        [](uv_handle_t*, size_t, uv_buf_t* b) {
          static char buf[65536];
          *b = uv_buf_init(buf, sizeof buf);
        },
        &FakeServer::onRead);
  }

  static void onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
    auto* c = static_cast<Conn*>(s->data);
    if (n < 0) {
      ++c->server->closedByPeer;
      c->server->closeConn(c);
      return;
    }
    c->in.append(b->base, static_cast<size_t>(n));
    c->server->process(c);
  }

  void process(Conn* c) {
    for (;;) {
      auto end = c->in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      std::string head = c->in.substr(0, end);
      size_t bodyLen = 0;
      std::string lowerHead = head;
      for (char& ch : lowerHead) ch = static_cast<char>(std::tolower(ch));
      auto cl = lowerHead.find("content-length:");
      if (cl != std::string::npos) bodyLen = std::stoul(head.substr(cl + 15));
      if (c->in.size() < end + 4 + bodyLen) return;
      std::string body = c->in.substr(end + 4, bodyLen);
      c->in.erase(0, end + 4 + bodyLen);
      ++requests;
      lastRequestHead = head;
      std::string method = head.substr(0, head.find(' '));
      std::string path = head.substr(method.size() + 1);
      path = path.substr(0, path.find(' '));
      if (path == "/hello") {
        write(c, reply(200, "hello"));
      } else if (path == "/echo") {
        write(c, reply(201, method + " " + body));
      } else if (path == "/big") {
        write(c, reply(200, std::string(200000, 'x')));
      } else if (path == "/stream") {
        c->streaming = true;
        write(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      } else if (path == "/hang") {
        // never answers
      } else {
        write(c, reply(404, "no"));
      }
    }
  }

  static std::string reply(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nX-Fake: yes\r\n\r\n" +
           body;
  }

  void write(Conn* c, const std::string& data) {
    if (c->closing) return;
    struct Req {
      uv_write_t w;
      std::string data;
    };
    auto* r = new Req{{}, data};
    uv_buf_t b = uv_buf_init(r->data.data(), static_cast<unsigned>(r->data.size()));
    uv_write(&r->w, c->stream, &b, 1, [](uv_write_t* w, int) { delete reinterpret_cast<Req*>(w); });
  }

  void closeConn(Conn* c) {
    if (c->closing) return;
    c->closing = true;
    c->streaming = false;
    uv_close(reinterpret_cast<uv_handle_t*>(c->stream), [](uv_handle_t* h) {
      if (h->type == UV_TCP) {
        delete reinterpret_cast<uv_tcp_t*>(h);
      } else {
        delete reinterpret_cast<uv_pipe_t*>(h);
      }
    });
  }

  uv_loop_t* loop_;
  uv_stream_t* listener_ = nullptr;
  std::list<std::unique_ptr<Conn>> conns_;
};

// ---- fixture -----------------------------------------------------------------------------------

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uv_loop_init(&loop_);
    server_ = std::make_unique<FakeServer>(&loop_);
    client_ = std::make_unique<Client>(&loop_);
  }

  void TearDown() override {
    bool closed = client_->closed();
    if (!closed) {
      bool done = false;
      client_->close([&] { done = true; });
      ASSERT_TRUE(runUntil([&] { return done; }));
    }
    server_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(0, uv_loop_close(&loop_));
  }

  // Runs the loop until pred() holds or the deadline passes. A 5 ms ticker keeps uv_run returning.
  bool runUntil(const std::function<bool()>& pred, int timeoutMs = 5000) {
    uv_timer_t tick;
    uv_timer_init(&loop_, &tick);
    uv_timer_start(
        &tick, [](uv_timer_t*) {}, 5, 5);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    bool ok = pred();
    while (!ok && std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop_, UV_RUN_ONCE);
      ok = pred();
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    return ok;
  }

  ClientRequest get(int port, const std::string& path) {
    ClientRequest r;
    r.url = "http://127.0.0.1:" + std::to_string(port) + path;
    return r;
  }

  uv_loop_t loop_;
  std::unique_ptr<FakeServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientTest, GetReturnsStatusBodyAndHeadersAndReusesTheConnection) {
  int port = server_->listenTcp();
  std::vector<ClientResponse> got;
  client_->send(get(port, "/hello"), [&](ClientResponse&& r) { got.push_back(std::move(r)); });
  ASSERT_TRUE(runUntil([&] { return got.size() == 1; }));
  client_->send(get(port, "/hello"), [&](ClientResponse&& r) { got.push_back(std::move(r)); });
  ASSERT_TRUE(runUntil([&] { return got.size() == 2; }));
  for (auto& r : got) {
    EXPECT_EQ("", r.error);
    EXPECT_EQ(200, r.status);
    EXPECT_EQ("hello", r.body);
    EXPECT_EQ("yes", r.header("x-fake"));
  }
  EXPECT_EQ(1, server_->accepted) << "keep-alive: the second request reuses the connection";
  EXPECT_EQ(0u, client_->active());
}

TEST_F(ClientTest, PostSendsMethodBodyAndHeaders) {
  int port = server_->listenTcp();
  ClientRequest r = get(port, "/echo");
  r.method = "PUT";
  r.body = std::string(5000, 'b');
  r.headers.push_back("X-Test: 42");
  ClientResponse got;
  bool done = false;
  client_->send(r, [&](ClientResponse&& resp) {
    got = std::move(resp);
    done = true;
  });
  ASSERT_TRUE(runUntil([&] { return done; }));
  EXPECT_EQ("", got.error);
  EXPECT_EQ(201, got.status);
  EXPECT_EQ("PUT " + std::string(5000, 'b'), got.body);
  EXPECT_NE(std::string::npos, server_->lastRequestHead.find("X-Test: 42"));
  EXPECT_EQ(std::string::npos, server_->lastRequestHead.find("Expect:"));
}

TEST_F(ClientTest, WorksOverAUnixSocket) {
  std::string path = "/tmp/meshkv-client-test-" + std::to_string(::getpid()) + ".sock";
  server_->listenUnix(path);
  ClientRequest r;
  r.url = "http://localhost/hello";
  r.unixSocket = path;
  int done = 0;
  for (int i = 0; i < 3; ++i) {
    client_->send(r, [&](ClientResponse&& resp) {
      EXPECT_EQ("", resp.error);
      EXPECT_EQ(200, resp.status);
      EXPECT_EQ("hello", resp.body);
      ++done;
    });
  }
  ASSERT_TRUE(runUntil([&] { return done == 3; }));
  ::unlink(path.c_str());
}

TEST_F(ClientTest, ManyConcurrentRequestsAllComplete) {
  int port = server_->listenTcp();
  int ok = 0;
  for (int i = 0; i < 100; ++i) {
    client_->send(get(port, i % 2 ? "/big" : "/hello"), [&](ClientResponse&& r) {
      EXPECT_EQ("", r.error);
      EXPECT_EQ(200, r.status);
      ++ok;
    });
  }
  ASSERT_TRUE(runUntil([&] { return ok == 100; }));
}

TEST_F(ClientTest, StreamDeliversPiecesAsTheyArrive) {
  int port = server_->listenTcp();
  long status = 0;
  std::string data;
  std::string end = "not yet";
  ClientRequest r = get(port, "/stream");
  r.timeoutMs = 0;
  client_->stream(
      r, [&](long s) { status = s; }, [&](std::string_view d) { data.append(d); },
      [&](std::string e) { end = std::move(e); });
  ASSERT_TRUE(runUntil([&] { return status == 200; }));
  ASSERT_TRUE(runUntil([&] { return server_->openStreams() == 1; }));
  server_->push("{\"a\":");
  ASSERT_TRUE(runUntil([&] { return data == "{\"a\":"; }));
  server_->push("1}\n");
  ASSERT_TRUE(runUntil([&] { return data == "{\"a\":1}\n"; }));
  EXPECT_EQ("not yet", end);
  server_->endStreams();
  ASSERT_TRUE(runUntil([&] { return end != "not yet"; }));
  EXPECT_EQ("", end);
}

TEST_F(ClientTest, TimeoutAndRefusedConnectionReportErrors) {
  int port = server_->listenTcp();
  ClientRequest hang = get(port, "/hang");
  hang.timeoutMs = 100;
  ClientResponse a, b;
  int done = 0;
  client_->send(hang, [&](ClientResponse&& r) {
    a = std::move(r);
    ++done;
  });
  // A port nobody listens on: bind one, read it back, close it.
  FakeServer other(&loop_);
  int deadPort = other.listenTcp();
  other.close();
  client_->send(get(deadPort, "/hello"), [&](ClientResponse&& r) {
    b = std::move(r);
    ++done;
  });
  ASSERT_TRUE(runUntil([&] { return done == 2; }));
  EXPECT_NE("", a.error);
  EXPECT_EQ(0, a.status);
  EXPECT_NE("", b.error);
  EXPECT_EQ(0, b.status);
}

TEST_F(ClientTest, OversizedBodyFails) {
  int port = server_->listenTcp();
  ClientRequest r = get(port, "/big");
  r.maxResponseBytes = 1000;
  ClientResponse got;
  bool done = false;
  client_->send(r, [&](ClientResponse&& resp) {
    got = std::move(resp);
    done = true;
  });
  ASSERT_TRUE(runUntil([&] { return done; }));
  EXPECT_NE(std::string::npos, got.error.find("larger than"));
}

TEST_F(ClientTest, CancelledRequestsNeverCallBack) {
  int port = server_->listenTcp();
  bool called = false;
  uint64_t id = client_->send(get(port, "/hang"), [&](ClientResponse&&) { called = true; });
  ASSERT_TRUE(runUntil([&] { return server_->requests == 1; }));
  client_->cancel(id);
  EXPECT_EQ(0u, client_->active());
  // The aborted connection is closed, so the server sees its client go away.
  ASSERT_TRUE(runUntil([&] { return server_->closedByPeer == 1; }));
  EXPECT_FALSE(called);

  // Cancelling a stream from inside its own data callback.
  ClientRequest r = get(port, "/stream");
  r.timeoutMs = 0;
  int pieces = 0;
  bool ended = false;
  uint64_t sid = 0;
  sid = client_->stream(
      r, [](long) {},
      [&](std::string_view) {
        ++pieces;
        client_->cancel(sid);
      },
      [&](std::string) { ended = true; });
  ASSERT_TRUE(runUntil([&] { return server_->openStreams() == 1; }));
  server_->push("one");
  ASSERT_TRUE(runUntil([&] { return pieces == 1; }));
  server_->push("two");
  ASSERT_TRUE(runUntil([&] { return server_->closedByPeer == 2; }));
  EXPECT_EQ(1, pieces);
  EXPECT_FALSE(ended);
  EXPECT_EQ(0u, client_->active());
}

TEST_F(ClientTest, CloseFromACallbackCancelsTheRest) {
  int port = server_->listenTcp();
  bool otherCalled = false;
  bool closed = false;
  client_->send(get(port, "/hang"), [&](ClientResponse&&) { otherCalled = true; });
  client_->send(get(port, "/hello"), [&](ClientResponse&& r) {
    EXPECT_EQ(200, r.status);
    client_->close([&] { closed = true; });
    // After close nothing new starts.
    EXPECT_EQ(0u,
              client_->send(get(port, "/hello"), [&](ClientResponse&&) { otherCalled = true; }));
  });
  ASSERT_TRUE(runUntil([&] { return closed; }));
  EXPECT_FALSE(otherCalled);
}

TEST_F(ClientTest, RequestsStartedFromInsideCallbacksRun) {
  int port = server_->listenTcp();
  ClientRequest r = get(port, "/stream");
  r.timeoutMs = 0;
  std::vector<std::string> got;
  client_->stream(
      r,
      [&](long) {  // from inside libcurl's header callback
        client_->send(get(port, "/hello"),
                      [&](ClientResponse&& resp) { got.push_back(resp.body); });
      },
      [&](std::string_view) {  // and from inside its write callback
        client_->send(get(port, "/echo"), [&](ClientResponse&& resp) { got.push_back(resp.body); });
      },
      [](std::string) {});
  ASSERT_TRUE(runUntil([&] { return got.size() == 1 && server_->openStreams() == 1; }));
  EXPECT_EQ("hello", got[0]);
  server_->push("x");
  ASSERT_TRUE(runUntil([&] { return got.size() == 2; }));
  EXPECT_EQ("GET ", got[1]);
}

}  // namespace
}  // namespace common::http
