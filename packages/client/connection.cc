// See connection.h. Life of a connection: resolve (numeric hosts skip it) -> connect (with its
// own timer) -> open: requests appended to out_ are written once per loop turn by an idle handle
// (a lone request on an idle connection goes at once), answers are parsed with http_parser and
// matched to exchanges_ in order -> closing: every handle closed, the object deletes itself when
// the last close callback (or the cancelled resolve) has run. Callbacks of exchanges run outside
// http_parser_execute (answers are collected first), so a callback may send, fail this connection
// or close the whole client.
#include "client/connection.h"

#include <strings.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "meshkv/client.h"

namespace meshkv {

Connection::Connection(uv_loop_t* loop, Events& events, std::string host, int port,
                       int connectTimeoutMs, Reuse reuse)
    : loop_(loop), events_(events), host_(std::move(host)), port_(port), reuse_(reuse) {
  hostHeader_ = (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) + ":" +
                std::to_string(port_);
  uv_tcp_init(loop_, &tcp_);
  uv_timer_init(loop_, &connectTimer_);
  uv_idle_init(loop_, &flusher_);
  tcp_.data = this;
  connectTimer_.data = this;
  flusher_.data = this;
  handlesOpen_ = 3;
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  http_parser_settings_init(&settings_);
  settings_.on_message_begin = [](http_parser* p) noexcept -> int {
    auto* c = static_cast<Connection*>(p->data);
    c->current_ = Outcome{};
    c->field_.clear();
    c->inValue_ = false;
    return 0;
  };
  settings_.on_header_field = &Connection::onHeaderField;
  settings_.on_header_value = &Connection::onHeaderValue;
  settings_.on_body = &Connection::onBody;
  settings_.on_message_complete = &Connection::onMessageComplete;
  uv_timer_start(&connectTimer_, &Connection::onConnectTimer,
                 static_cast<uint64_t>(connectTimeoutMs > 0 ? connectTimeoutMs : 1000), 0);
}

void Connection::start() {
  sockaddr_storage addr{};
  if (uv_ip4_addr(host_.c_str(), port_, reinterpret_cast<sockaddr_in*>(&addr)) == 0 ||
      uv_ip6_addr(host_.c_str(), port_, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) {
    startConnect(reinterpret_cast<sockaddr*>(&addr));
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  resolve_.data = this;
  std::string port = std::to_string(port_);
  int rc = uv_getaddrinfo(loop_, &resolve_, &Connection::onResolved, host_.c_str(), port.c_str(),
                          &hints);
  if (rc != 0) return fail(kUnavailable, "cannot resolve " + host_ + ": " + uv_strerror(rc));
  resolving_ = true;
  ++handlesOpen_;  // the resolve request must come back (cancelled or not) before deletion
}

void Connection::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
  auto* c = static_cast<Connection*>(req->data);
  c->resolving_ = false;
  if (c->state_ == State::kClosing) {
    if (res != nullptr) uv_freeaddrinfo(res);
    if (--c->handlesOpen_ == 0) {
      c->events_.onFreed(c);
      delete c;
    }
    return;
  }
  --c->handlesOpen_;
  if (status != 0 || res == nullptr) {
    if (res != nullptr) uv_freeaddrinfo(res);
    return c->fail(kUnavailable, "cannot resolve " + c->host_ + ": " + uv_strerror(status));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  uv_freeaddrinfo(res);
  c->startConnect(reinterpret_cast<sockaddr*>(&addr));
}

void Connection::startConnect(const sockaddr* addr) {
  state_ = State::kConnecting;
  connect_.data = this;
  int rc = uv_tcp_connect(&connect_, &tcp_, addr, &Connection::onConnect);
  if (rc != 0) fail(kUnavailable, "cannot connect to " + hostHeader_ + ": " + uv_strerror(rc));
}

void Connection::onConnect(uv_connect_t* req, int status) noexcept {
  auto* c = static_cast<Connection*>(req->data);
  if (c->state_ == State::kClosing) return;  // cancelled by fail()
  if (status != 0) {
    return c->fail(kUnavailable,
                   "cannot connect to " + c->hostHeader_ + ": " + uv_strerror(status));
  }
  c->state_ = State::kOpen;
  c->opened_ = true;
  uv_timer_stop(&c->connectTimer_);
  uv_tcp_nodelay(&c->tcp_, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp_), &Connection::onAlloc,
                &Connection::onRead);
  c->flushOut();
  c->refresh();
}

void Connection::onConnectTimer(uv_timer_t* t) noexcept {
  auto* c = static_cast<Connection*>(t->data);
  if (c->state_ == State::kResolving || c->state_ == State::kConnecting) {
    c->fail(kUnavailable, "no connection to " + c->hostHeader_ + " within the connect timeout");
  }
}

void Connection::send(const std::string& target, uint64_t deadlineMs, Done done) {
  out_.append("GET ");
  out_.append(target);
  out_.append(" HTTP/1.1\r\nHost: ");
  out_.append(hostHeader_);
  if (reuse_ == Reuse::kOnePerRequest) out_.append("\r\nConnection: close");
  out_.append("\r\n\r\n");
  ++requests_;
  exchanges_.push_back(Exchange{deadlineMs, std::move(done)});
  if (state_ == State::kOpen && !flushing_ && exchanges_.size() == 1 && writeNow()) {
    return refresh();
  }
  if (state_ == State::kOpen && !flushing_) {
    flushing_ = true;
    uv_idle_start(&flusher_, &Connection::onFlush);
  }
  refresh();
}

bool Connection::writeNow() {
  uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1);
  if (n <= 0) return false;  // EAGAIN or an error: the flusher tries again and reports it
  written_ = exchanges_.size();
  out_.erase(0, static_cast<size_t>(n));
  return out_.empty();
}

void Connection::onFlush(uv_idle_t* i) noexcept {
  auto* c = static_cast<Connection*>(i->data);
  c->flushOut();
}

void Connection::flushOut() {
  if (flushing_) {
    flushing_ = false;
    uv_idle_stop(&flusher_);
  }
  if (state_ != State::kOpen || out_.empty()) return;
  written_ = exchanges_.size();
  // Straight to the socket when it takes it all (no write request, no POLLOUT watcher: one
  // epoll_ctl less per request under load); uv_write queues only what is left.
  uv_buf_t now = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &now, 1);
  if (n == static_cast<int>(out_.size())) {
    out_.clear();
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    return fail(kConnectionLost, std::string("write failed: ") + uv_strerror(n));
  }
  auto* w = new Write();
  w->bytes.assign(out_, n > 0 ? static_cast<size_t>(n) : 0);
  out_.clear();
  w->req.data = this;
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  int rc =
      uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, &Connection::onWritten);
  if (rc != 0) {
    delete w;
    fail(kConnectionLost, std::string("write failed: ") + uv_strerror(rc));
  }
}

void Connection::onWritten(uv_write_t* req, int status) noexcept {
  auto* c = static_cast<Connection*>(req->data);
  delete reinterpret_cast<Write*>(req);  // req is the Write's first member
  if (status != 0 && status != UV_ECANCELED) {
    c->fail(kConnectionLost, std::string("write failed: ") + uv_strerror(status));
  }
}

void Connection::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  auto* c = static_cast<Connection*>(h->data);
  *buf = uv_buf_init(c->buf_, sizeof c->buf_);
}

void Connection::onRead(uv_stream_t* s, ssize_t n, const uv_buf_t*) noexcept {
  auto* c = static_cast<Connection*>(s->data);
  if (n > 0) return c->onData(c->buf_, static_cast<size_t>(n));
  if (n == 0) return;
  c->fail(kConnectionLost, n == UV_EOF ? "the server closed the connection"
                                       : std::string(uv_strerror(static_cast<int>(n))));
}

void Connection::onData(const char* data, size_t len) {
  size_t parsed = http_parser_execute(&parser_, &settings_, data, len);
  bool broken = parsed != len || HTTP_PARSER_ERRNO(&parser_) != HPE_OK;
  deliver();
  if (state_ == State::kClosing) return;
  if (closeAfter_) {
    // The server answered with "Connection: close": it processed nothing after that answer
    // (RFC 9112 9.6), so what is still waiting never happened and may go elsewhere, writes too.
    written_ = 0;
    return fail(kConnectionLost, "the server closed the connection after an answer");
  }
  if (reuse_ == Reuse::kOnePerRequest && exchanges_.empty()) {
    return fail(kConnectionLost, "one request per connection: answered");  // fails nothing
  }
  if (broken) {
    return fail(kBadResponse, std::string("bad HTTP answer: ") +
                                  http_errno_description(HTTP_PARSER_ERRNO(&parser_)));
  }
}

void Connection::deliver() {
  while (!completed_.empty() && state_ != State::kClosing) {
    if (exchanges_.empty()) return fail(kBadResponse, "an answer nobody asked for");
    Outcome o = std::move(completed_.front());
    completed_.pop_front();
    Exchange e = std::move(exchanges_.front());
    exchanges_.pop_front();
    if (written_ > 0) --written_;
    o.sent = true;
    lastAnswerNs_ = uv_hrtime();
    refresh();
    if (exchanges_.empty() && usable()) events_.onIdle(this);
    e.done(std::move(o));
  }
  completed_.clear();
}

bool Connection::expire(uint64_t nowMs) {
  if (state_ == State::kClosing || exchanges_.empty() || exchanges_.front().deadlineMs > nowMs) {
    return false;
  }
  fail(kTimeout, "no answer from " + hostHeader_ + " in time", true);
  return true;
}

void Connection::fail(const std::string& error, const std::string& detail, bool frontOnly) {
  if (state_ == State::kClosing) return;
  state_ = State::kClosing;
  uv_timer_stop(&connectTimer_);
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_));
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&tcp_), reinterpret_cast<uv_handle_t*>(&connectTimer_),
        reinterpret_cast<uv_handle_t*>(&flusher_)}) {
    uv_close(h, &Connection::onHandleClosed);
  }
  std::deque<Exchange> failed;
  failed.swap(exchanges_);
  size_t sent = written_;
  written_ = 0;
  completed_.clear();
  events_.onClosed(this, !opened_);
  for (size_t i = 0; i < failed.size(); ++i) {
    Outcome o;
    o.error = i == 0 || !frontOnly ? error : std::string(kConnectionLost);
    o.detail = i == 0 || !frontOnly ? detail : "the connection was closed after a timeout";
    o.sent = i < sent;
    failed[i].done(std::move(o));
  }
}

void Connection::refresh() {
  bool want = !exchanges_.empty() || state_ != State::kOpen;
  if (want == refd_ || state_ == State::kClosing) return;
  refd_ = want;
  // An idle pooled connection must not keep the caller's loop alive.
  if (want) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&tcp_));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(&tcp_));
  }
}

void Connection::onHandleClosed(uv_handle_t* h) noexcept {
  auto* c = static_cast<Connection*>(h->data);
  if (--c->handlesOpen_ == 0) {
    c->events_.onFreed(c);
    delete c;
  }
}

bool Connection::closeIfStale() {
  if (state_ != State::kOpen || !exchanges_.empty()) return false;
  // (uv_hrtime, not uv_now: the blocking Client's loop does not run between calls.)
  if (requests_ > 0 && uv_hrtime() - lastAnswerNs_ < 1000000) return false;  // it just answered
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) != 0) return false;
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;  // open and quiet
  fail(kConnectionLost, "closed by the server while idle");
  return true;
}

int Connection::onHeaderField(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<Connection*>(p->data);
  if (c->inValue_) {
    c->field_.clear();
    c->inValue_ = false;
  }
  c->field_.append(at, len);
  return 0;
}

int Connection::onHeaderValue(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<Connection*>(p->data);
  if (!c->inValue_) {
    c->inValue_ = true;
    c->inCursor_ = strcasecmp(c->field_.c_str(), "x-cursor") == 0;
  }
  if (c->inCursor_) c->current_.cursor.append(at, len);
  return 0;
}

int Connection::onBody(http_parser* p, const char* at, size_t len) noexcept {
  static_cast<Connection*>(p->data)->current_.body.append(at, len);
  return 0;
}

int Connection::onMessageComplete(http_parser* p) noexcept {
  auto* c = static_cast<Connection*>(p->data);
  c->current_.status = p->status_code;
  c->closeAfter_ = !http_should_keep_alive(p);
  c->completed_.push_back(std::move(c->current_));
  c->current_ = Outcome{};
  return 0;
}

}  // namespace meshkv
