// See tcp_peers.h.
#include "load-balancer/testing/tcp_peers.h"

#include <algorithm>
#include <cstring>

namespace lb::testing {

namespace {
void allocBuf(uv_handle_t*, size_t, uv_buf_t* b) {
  static char buf[65536];
  *b = uv_buf_init(buf, sizeof buf);
}
void freeTcp(uv_handle_t* h) {
  delete reinterpret_cast<uv_tcp_t*>(h);
}
struct WriteReq {
  uv_write_t w;
  std::string data;
};
}  // namespace

struct TestBackend::Conn {
  TestBackend* owner;
  uv_tcp_t* tcp;
  bool closing = false;
};

TestBackend::TestBackend(uv_loop_t* loop, std::string name, Mode mode, uint64_t floodBytes)
    : loop_(loop), name_(std::move(name)), mode_(mode), floodBytes_(floodBytes) {}

TestBackend::~TestBackend() = default;

int TestBackend::listen() {
  server_ = new uv_tcp_t;
  uv_tcp_init(loop_, server_);
  server_->data = this;
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_bind(server_, reinterpret_cast<sockaddr*>(&addr), 0);
  uv_listen(reinterpret_cast<uv_stream_t*>(server_), 1024, &TestBackend::onConnection);
  sockaddr_storage ss{};
  int len = sizeof ss;
  uv_tcp_getsockname(server_, reinterpret_cast<sockaddr*>(&ss), &len);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

void TestBackend::close() {
  if (server_ != nullptr) uv_close(reinterpret_cast<uv_handle_t*>(server_), freeTcp);
  server_ = nullptr;
  closeConnections();
}

void TestBackend::closeConnections() {
  for (auto& c : conns_) closeConn(c.get());
}

void TestBackend::onConnection(uv_stream_t* s, int status) {
  auto* self = static_cast<TestBackend*>(s->data);
  if (status < 0) return;
  auto conn = std::make_unique<Conn>(Conn{self, new uv_tcp_t});
  Conn* c = conn.get();
  self->conns_.push_back(std::move(conn));
  uv_tcp_init(self->loop_, c->tcp);
  c->tcp->data = c;
  uv_accept(s, reinterpret_cast<uv_stream_t*>(c->tcp));
  ++self->accepted;
  ++self->open;
  if (self->mode_ == Mode::kGreetAndEcho) {
    self->write(c, self->name_ + "\n");
  } else {
    self->flood(c);
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(c->tcp), allocBuf, &TestBackend::onRead);
}

void TestBackend::onRead(uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
  auto* c = static_cast<Conn*>(s->data);
  TestBackend* self = c->owner;
  if (n > 0) {
    if (self->mode_ == Mode::kGreetAndEcho) self->write(c, std::string(b->base, n));
    return;
  }
  if (n == UV_EOF) {
    // Half-close: the client is done sending; answer, then close our side.
    uv_read_stop(s);
    self->write(c, "bye\n");
    auto* req = new uv_shutdown_t;
    req->data = c;
    int rc = uv_shutdown(req, s, [](uv_shutdown_t* r, int) {
      auto* conn = static_cast<Conn*>(r->data);
      delete r;
      conn->owner->closeConn(conn);
    });
    if (rc != 0) {  // already shut down (flood mode): just close
      delete req;
      self->closeConn(c);
    }
    return;
  }
  if (n < 0) self->closeConn(c);
}

void TestBackend::flood(Conn* c) {
  // Keep about 256 KB queued until floodBytes_ are written; stops by itself.
  auto* stream = reinterpret_cast<uv_stream_t*>(c->tcp);
  while (!c->closing && flooded < floodBytes_ &&
         uv_stream_get_write_queue_size(stream) < 256 * 1024) {
    size_t n = std::min<uint64_t>(64 * 1024, floodBytes_ - flooded);
    flooded += n;
    auto* req = new WriteReq{{}, std::string(n, 'x')};
    req->w.data = c;
    uv_buf_t buf = uv_buf_init(req->data.data(), static_cast<unsigned>(n));
    int rc = uv_write(&req->w, stream, &buf, 1, [](uv_write_t* w, int status) {
      auto* r = reinterpret_cast<WriteReq*>(w);
      auto* conn = static_cast<Conn*>(w->data);
      delete r;
      if (status == 0) conn->owner->flood(conn);
    });
    if (rc != 0) {
      delete req;
      return;
    }
  }
  size_t q = uv_stream_get_write_queue_size(stream);
  maxWriteQueue = std::max(maxWriteQueue, q);
  floodBlocked = q >= 256 * 1024;
  if (!c->closing && flooded >= floodBytes_ && q == 0) {
    auto* req = new uv_shutdown_t;
    if (uv_shutdown(req, stream, [](uv_shutdown_t* r, int) { delete r; }) != 0) delete req;
    flooded += 1;  // shut down once
  }
}

void TestBackend::write(Conn* c, std::string data) {
  if (c->closing) return;
  auto* req = new WriteReq{{}, std::move(data)};
  uv_buf_t buf = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
  int rc = uv_write(&req->w, reinterpret_cast<uv_stream_t*>(c->tcp), &buf, 1,
                    [](uv_write_t* w, int) { delete reinterpret_cast<WriteReq*>(w); });
  if (rc != 0) delete req;
}

void TestBackend::closeConn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  --open;
  uv_close(reinterpret_cast<uv_handle_t*>(c->tcp), freeTcp);
}

// ---- TestClient --------------------------------------------------------------------------------

struct TestClient::State {
  TestClient* owner;
  uv_loop_t* loop;
  uv_tcp_t* tcp = nullptr;
  uv_connect_t req{};
  bool reading = false;
  bool closed = false;
  bool freed = false;
};

TestClient::TestClient(uv_loop_t* loop) : st_(new State{this, loop}) {}

TestClient::~TestClient() {
  if (st_->tcp == nullptr || st_->freed) {
    delete st_;
  } else {
    st_->owner = nullptr;  // the close callback frees it
    close();
  }
}

void TestClient::connect(int port, bool startReading) {
  st_->tcp = new uv_tcp_t;
  uv_tcp_init(st_->loop, st_->tcp);
  st_->tcp->data = st_;
  st_->req.data = st_;
  st_->reading = startReading;
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", port, &addr);
  uv_tcp_connect(&st_->req, st_->tcp, reinterpret_cast<sockaddr*>(&addr),
                 [](uv_connect_t* r, int status) {
                   auto* st = static_cast<State*>(r->data);
                   if (st->owner == nullptr || st->closed) return;
                   if (status < 0) {
                     st->owner->failed = true;
                     return;
                   }
                   st->owner->connected = true;
                   if (st->reading) st->owner->resumeReading();
                 });
}

void TestClient::resumeReading() {
  st_->reading = true;
  if (!connected || st_->closed) return;
  uv_read_start(reinterpret_cast<uv_stream_t*>(st_->tcp), allocBuf,
                [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
                  auto* st = static_cast<State*>(s->data);
                  if (st->owner == nullptr) return;
                  TestClient* self = st->owner;
                  if (n > 0) {
                    self->receivedBytes += static_cast<uint64_t>(n);
                    if (self->keepData) self->received.append(b->base, n);
                  } else if (n < 0) {
                    self->eof = true;
                    self->reset = n != UV_EOF;
                    uv_read_stop(s);
                  }
                });
}

void TestClient::pauseReading() {
  st_->reading = false;
  if (connected && !st_->closed) uv_read_stop(reinterpret_cast<uv_stream_t*>(st_->tcp));
}

void TestClient::send(const std::string& data) {
  auto* req = new WriteReq{{}, data};
  uv_buf_t buf = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
  if (uv_write(&req->w, reinterpret_cast<uv_stream_t*>(st_->tcp), &buf, 1,
               [](uv_write_t* w, int) { delete reinterpret_cast<WriteReq*>(w); }) != 0) {
    delete req;
  }
}

void TestClient::shutdown() {
  auto* req = new uv_shutdown_t;
  uv_shutdown(req, reinterpret_cast<uv_stream_t*>(st_->tcp),
              [](uv_shutdown_t* r, int) { delete r; });
}

void TestClient::close() {
  if (st_->tcp == nullptr || st_->closed) return;
  st_->closed = true;
  uv_close(reinterpret_cast<uv_handle_t*>(st_->tcp), [](uv_handle_t* h) {
    auto* st = static_cast<State*>(h->data);
    delete reinterpret_cast<uv_tcp_t*>(h);
    st->freed = true;
    if (st->owner == nullptr) delete st;
  });
}

}  // namespace lb::testing
