// See peer_link.h. States: idle -> resolving -> connecting -> connected; any error -> waiting
// (backoff timer) -> resolving... Every socket is heap-allocated and freed in its own close
// callback, so a reconnect never reuses a handle that libuv still owns; callbacks of an old
// socket are recognised by its generation and ignored.
#include "database/mesh/peer_link.h"

#include <spdlog/spdlog.h>

#include <strings.h>

#include <charconv>
#include <cstring>

namespace db {
namespace {

struct SocketCtx {
  PeerLink* link;
  uint64_t generation;
};

}  // namespace

struct PeerLink::WriteReq {
  uv_write_t req;
  PeerLink* link;
  uint64_t generation;
  std::string head;
  std::shared_ptr<const std::string> body;
  size_t bytes;
};

PeerLink::PeerLink(uv_loop_t* loop, std::string peerId, std::string host, uint16_t port,
                   Delegate* delegate, uint64_t reconnectMinMs, uint64_t reconnectMaxMs,
                   const MeshAuth* auth)
    : loop_(loop),
      peerId_(std::move(peerId)),
      host_(std::move(host)),
      port_(port),
      delegate_(delegate),
      backoffMinMs_(reconnectMinMs),
      backoffMaxMs_(reconnectMaxMs),
      backoffMs_(reconnectMinMs),
      auth_(auth) {
  uv_timer_init(loop_, &retry_);
  retry_.data = this;
  handlesOpen_ = 1;
  http_parser_settings_init(&settings_);
  settings_.on_body = &PeerLink::onBody;
  settings_.on_message_begin = &PeerLink::onMessageBegin;
  settings_.on_header_field = &PeerLink::onHeaderField;
  settings_.on_header_value = &PeerLink::onHeaderValue;
  settings_.on_message_complete = &PeerLink::onMessageComplete;
}

void PeerLink::start() {
  if (destroying_ || state_ != State::kIdle) return;
  // Numeric addresses skip the resolver.
  struct sockaddr_storage ss;
  std::string h = host_;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (uv_ip4_addr(h.c_str(), port_, reinterpret_cast<sockaddr_in*>(&ss)) == 0 ||
      uv_ip6_addr(h.c_str(), port_, reinterpret_cast<sockaddr_in6*>(&ss)) == 0) {
    connectTo(reinterpret_cast<const sockaddr*>(&ss));
    return;
  }
  state_ = State::kResolving;
  struct addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolve_.data = this;
  std::string port = std::to_string(port_);
  int rc = uv_getaddrinfo(loop_, &resolve_, &PeerLink::onResolved, h.c_str(), port.c_str(), &hints);
  if (rc != 0) {
    fail(std::string("resolve: ") + uv_strerror(rc));
    return;
  }
  resolving_ = true;
}

void PeerLink::onResolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res) noexcept {
  auto* self = static_cast<PeerLink*>(req->data);
  self->resolving_ = false;
  if (self->destroying_) {
    uv_freeaddrinfo(res);
    self->maybeDelete();
    return;
  }
  if (status != 0 || res == nullptr) {
    uv_freeaddrinfo(res);
    self->fail(std::string("resolve ") + self->host_ + ": " + uv_strerror(status));
    return;
  }
  self->connectTo(res->ai_addr);
  uv_freeaddrinfo(res);
}

void PeerLink::connectTo(const struct sockaddr* addr) {
  state_ = State::kConnecting;
  tcp_ = new uv_tcp_t;
  uv_tcp_init(loop_, tcp_);
  ++handlesOpen_;
  tcp_->data = new SocketCtx{this, ++generation_};
  uv_tcp_nodelay(tcp_, 1);
  auto* req = new uv_connect_t;
  req->data = tcp_->data;
  int rc = uv_tcp_connect(req, tcp_, addr, &PeerLink::onConnect);
  if (rc != 0) {
    delete req;
    fail(std::string("connect: ") + uv_strerror(rc));
  }
}

void PeerLink::onConnect(uv_connect_t* req, int status) noexcept {
  auto ctx = *static_cast<SocketCtx*>(req->data);
  delete req;
  PeerLink* self = ctx.link;
  if (self->destroying_ || ctx.generation != self->generation_ ||
      self->state_ != State::kConnecting) {
    return;
  }
  if (status != 0) {
    self->fail(std::string("connect: ") + uv_strerror(status));
    return;
  }
  self->state_ = State::kConnected;
  self->backoffMs_ = self->backoffMinMs_;
  self->queuedBytes_ = 0;
  self->body_.clear();
  self->proofs_.clear();
  self->parseFailed_ = false;
  http_parser_init(&self->parser_, HTTP_RESPONSE);
  self->parser_.data = self;
  uv_read_start(reinterpret_cast<uv_stream_t*>(self->tcp_), &PeerLink::onAlloc, &PeerLink::onRead);
  self->delegate_->onLinkConnected(*self);
}

void PeerLink::send(std::string head, std::shared_ptr<const std::string> body, std::string proof) {
  if (!connected()) return;
  proofs_.push_back(std::move(proof));
  auto* w = new WriteReq;
  w->link = this;
  w->generation = generation_;
  w->head = std::move(head);
  w->body = std::move(body);
  w->bytes = w->head.size() + (w->body ? w->body->size() : 0);
  w->req.data = w;
  uv_buf_t bufs[2];
  bufs[0] = uv_buf_init(w->head.data(), static_cast<unsigned>(w->head.size()));
  unsigned n = 1;
  if (w->body && !w->body->empty()) {
    bufs[1] =
        uv_buf_init(const_cast<char*>(w->body->data()), static_cast<unsigned>(w->body->size()));
    n = 2;
  }
  queuedBytes_ += w->bytes;
  int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(tcp_), bufs, n, &PeerLink::onWrite);
  if (rc != 0) {
    queuedBytes_ -= w->bytes;
    delete w;
    fail(std::string("write: ") + uv_strerror(rc));
  }
}

void PeerLink::onWrite(uv_write_t* req, int status) noexcept {
  auto* w = static_cast<WriteReq*>(req->data);
  PeerLink* self = w->link;
  bool current = w->generation == self->generation_ && !self->destroying_;
  if (current) {
    self->queuedBytes_ -= std::min(self->queuedBytes_, w->bytes);
  }
  delete w;
  if (!current || self->state_ != State::kConnected) return;
  if (status != 0) {
    self->fail(std::string("write: ") + uv_strerror(status));
    return;
  }
  if (self->queuedBytes_ < kHighWatermark / 2) self->delegate_->onLinkWritable(*self);
}

void PeerLink::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  auto* ctx = static_cast<SocketCtx*>(h->data);
  *buf = uv_buf_init(ctx->link->readBuf_, sizeof ctx->link->readBuf_);
}

void PeerLink::onRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* ctx = static_cast<SocketCtx*>(s->data);
  PeerLink* self = ctx->link;
  if (self->destroying_ || ctx->generation != self->generation_) return;
  self->handleRead(nread, buf->base);
}

void PeerLink::handleRead(ssize_t nread, const char* data) {
  if (nread == 0) return;
  if (nread < 0) {
    fail(nread == UV_EOF ? "peer closed the connection" : uv_strerror(static_cast<int>(nread)));
    return;
  }
  uint64_t gen = generation_;
  size_t used = http_parser_execute(&parser_, &settings_, data, static_cast<size_t>(nread));
  if (gen != generation_ || destroying_) return;  // a callback failed the link
  if (parseFailed_) return;
  if (parser_.http_errno != HPE_OK || used != static_cast<size_t>(nread)) {
    fail(std::string("bad response: ") +
         http_errno_name(static_cast<http_errno>(parser_.http_errno)));
  }
}

int PeerLink::onBody(http_parser* p, const char* at, size_t len) noexcept {
  auto* self = static_cast<PeerLink*>(p->data);
  if (self->body_.size() + len > 4096) return 1;  // an ack is tiny
  self->body_.append(at, len);
  return 0;
}

int PeerLink::onMessageBegin(http_parser* p) noexcept {
  auto* self = static_cast<PeerLink*>(p->data);
  self->answerAuth_.clear();
  self->answerFrom_.clear();
  self->field_.clear();
  self->hdr_ = Hdr::kOther;
  return 0;
}

int PeerLink::onHeaderField(http_parser* p, const char* at, size_t len) noexcept {
  auto* self = static_cast<PeerLink*>(p->data);
  if (self->hdr_ != Hdr::kOther || self->field_.size() > 64) self->field_.clear();
  if (self->field_.size() + len <= 64) self->field_.append(at, len);
  self->hdr_ = Hdr::kOther;
  return 0;
}

int PeerLink::onHeaderValue(http_parser* p, const char* at, size_t len) noexcept {
  auto* self = static_cast<PeerLink*>(p->data);
  if (!self->field_.empty()) {
    auto is = [&](std::string_view name) {
      return self->field_.size() == name.size() &&
             strncasecmp(self->field_.data(), name.data(), name.size()) == 0;
    };
    self->hdr_ = is("x-mesh-auth") ? Hdr::kAuth : is("x-mesh-from") ? Hdr::kFrom : Hdr::kOther;
    self->field_.clear();
  }
  std::string* out = self->hdr_ == Hdr::kAuth   ? &self->answerAuth_
                     : self->hdr_ == Hdr::kFrom ? &self->answerFrom_
                                                : nullptr;
  if (out != nullptr && out->size() + len <= 256) out->append(at, len);
  return 0;
}

int PeerLink::onMessageComplete(http_parser* p) noexcept {
  auto* self = static_cast<PeerLink*>(p->data);
  std::string body = std::move(self->body_);
  self->body_.clear();
  // The answer must prove it was made, by a holder of the secret, for the request it answers
  // (the oldest in flight: answers come in request order).
  std::string proof;
  if (!self->proofs_.empty()) {
    proof = std::move(self->proofs_.front());
    self->proofs_.pop_front();
  }
  if (self->auth_ != nullptr && self->auth_->enabled() &&
      (self->answerFrom_ != self->peerId_ ||
       !self->auth_->verifyResponse(self->answerAuth_, proof, p->status_code, self->answerFrom_,
                                    body))) {
    self->parseFailed_ = true;
    std::string why = "answer without a valid proof (HTTP " + std::to_string(p->status_code) + ")";
    uint64_t gen = self->generation_;
    self->delegate_->onLinkForged(*self, why);
    if (gen == self->generation_ && !self->destroying_) self->fail(why);
    return 1;
  }
  if (p->status_code != 200) {
    self->parseFailed_ = true;
    self->fail("peer refused a batch: HTTP " + std::to_string(p->status_code) + " " + body);
    return 1;
  }
  // {"ack":N}
  size_t at = body.find("\"ack\":");
  uint64_t seq = 0;
  if (at == std::string::npos ||
      std::from_chars(body.data() + at + 6, body.data() + body.size(), seq).ec != std::errc()) {
    self->parseFailed_ = true;
    self->fail("ack without a sequence number: " + body);
    return 1;
  }
  uint64_t gen = self->generation_;
  self->delegate_->onLinkAck(*self, seq);
  if (gen != self->generation_ || self->destroying_) {
    self->parseFailed_ = true;
    return 1;
  }
  return 0;
}

void PeerLink::fail(const std::string& why) {
  if (destroying_) return;
  bool wasConnected = state_ == State::kConnected;
  if (tcp_ != nullptr) {
    uv_tcp_t* t = tcp_;
    tcp_ = nullptr;
    ++generation_;  // callbacks of the old socket are now stale
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(t))) {
      uv_close(reinterpret_cast<uv_handle_t*>(t), &PeerLink::onTcpClosed);
    }
  }
  queuedBytes_ = 0;
  proofs_.clear();
  state_ = State::kWaiting;
  uv_timer_start(&retry_, &PeerLink::onRetry, backoffMs_, 0);
  backoffMs_ = std::min(backoffMs_ * 2, backoffMaxMs_);
  if (wasConnected) {
    spdlog::info("mesh: replication link to {} ({}:{}) down: {}", peerId_, host_, port_, why);
  } else {
    spdlog::debug("mesh: replication link to {} ({}:{}) failed: {}", peerId_, host_, port_, why);
  }
}

void PeerLink::onRetry(uv_timer_t* t) noexcept {
  auto* self = static_cast<PeerLink*>(t->data);
  if (self->destroying_ || self->state_ != State::kWaiting) return;
  self->state_ = State::kIdle;
  self->start();
}

void PeerLink::onTcpClosed(uv_handle_t* h) noexcept {
  auto* ctx = static_cast<SocketCtx*>(h->data);
  PeerLink* self = ctx->link;
  delete ctx;
  delete reinterpret_cast<uv_tcp_t*>(h);
  --self->handlesOpen_;
  self->maybeDelete();
}

void PeerLink::onTimerClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<PeerLink*>(h->data);
  --self->handlesOpen_;
  self->maybeDelete();
}

void PeerLink::destroy(std::function<void()> done) {
  if (destroying_) return;
  destroying_ = true;
  destroyed_ = std::move(done);
  state_ = State::kClosing;
  if (tcp_ != nullptr) {
    uv_tcp_t* t = tcp_;
    tcp_ = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(t), &PeerLink::onTcpClosed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&retry_), &PeerLink::onTimerClosed);
}

void PeerLink::maybeDelete() {
  if (!destroying_ || handlesOpen_ > 0 || resolving_) return;
  auto done = std::move(destroyed_);
  delete this;
  if (done) done();
}

}  // namespace db
