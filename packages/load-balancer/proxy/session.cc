// See session.h. The invariants: a direction has at most one write in flight, and while it has
// one its source is not read; a shutdown is sent to a destination only after its source's FIN
// and once its pending write is flushed; the session closes when both shutdowns completed or
// on any error. Connect attempts close the backend handle and reopen it in the close callback,
// so a timed-out connect is cancelled by libuv (UV_ECANCELED), never left behind.
#include "load-balancer/proxy/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/socket.h>

#include "load-balancer/proxy/listener.h"

namespace lb {

namespace {
uv_stream_t* asStream(uv_tcp_t* t) {
  return reinterpret_cast<uv_stream_t*>(t);
}
uv_handle_t* asHandle(uv_tcp_t* t) {
  return reinterpret_cast<uv_handle_t*>(t);
}
// The socket under a stream, or -1 (closed), for the calls libuv does not make for us.
int fdOf(uv_stream_t* s) {
  uv_os_fd_t fd;
  return uv_fileno(reinterpret_cast<uv_handle_t*>(s), &fd) == 0 ? fd : -1;
}
}  // namespace

Session::Session(Listener* listener) : listener_(listener) {
  up_.src = asStream(&client_);
  up_.dst = asStream(&backend_);
  up_.bytes = &listener_->stats_.bytesIn;
  down_.src = asStream(&backend_);
  down_.dst = asStream(&client_);
  down_.bytes = &listener_->stats_.bytesOut;
  // Servers close after an answer (HTTP/1.0, Connection: close, one-shot protocols); clients
  // rarely send a FIN with a request, so that direction would pay a look per connection for
  // nothing.
  up_.probeFin = false;
  connect_.data = this;
}

void Session::start(uv_stream_t* server) {
  uv_tcp_init(listener_->loop_, &client_);
  client_.data = this;
  clientOpen_ = true;
  int rc = uv_accept(server, asStream(&client_));
  if (rc != 0) {
    if (listener_->rateLimitedLog()) spdlog::warn("accept: {}", uv_strerror(rc));
    abort();
    return;
  }
#ifndef __linux__
  uv_tcp_nodelay(&client_, 1);  // Linux: inherited from the listening socket
#endif
  lastActivity_ = uv_now(listener_->loop_);
  connectNext();
}

void Session::connectNext() {
  const uint64_t now = uv_now(listener_->loop_);
  const auto& candidates = listener_->pool_.candidates();
  auto notTried = [this](const Backend& b) {
    return std::find(tried_.begin(), tried_.end(), &b) == tried_.end();
  };
  Backend* b = listener_->balancer_.pick(
      candidates, [&](const Backend& c) { return c.downUntilMs <= now && notTried(c); });
  if (b == nullptr) {
    // Every untried backend is out on passive health: trying one beats refusing the client.
    b = listener_->balancer_.pick(candidates, notTried);
  }
  if (b == nullptr) {
    ++listener_->stats_.noBackend;
    if (listener_->rateLimitedLog()) {
      spdlog::warn("no backend answered ({} tried, {} candidates): closing the client",
                   tried_.size(), candidates.size());
    }
    discardClientInput();
    abort();
    return;
  }
  if (!tried_.empty()) ++listener_->stats_.connectRetries;
  tried_.push_back(b);
  target_ = b->shared_from_this();
  ++b->openConnections;
  ++b->totalConnections;
  counted_ = true;
  uv_tcp_init(listener_->loop_, &backend_);
  backend_.data = this;
  backendOpen_ = true;
  phase_ = Phase::kConnecting;
  connectDeadline_ = now + listener_->opts_.connectTimeoutMs;
  int rc = uv_tcp_connect(&connect_, &backend_, b->sockAddr(), &Session::onConnect);
  if (rc == UV_EMFILE || rc == UV_ENFILE || rc == UV_ENOBUFS || rc == UV_ENOMEM) {
    // Our own resources ran out, not the backend's fault: no passive-health mark, no retry.
    if (listener_->rateLimitedLog())
      spdlog::error("cannot open a backend socket: {}", uv_strerror(rc));
    abort();
    return;
  }
  if (rc != 0) {
    connectFailed(rc);
    return;
  }
  // Reading is armed with the connect: epoll then learns POLLIN and POLLOUT in one ADD and drops
  // POLLOUT with one MOD when the connect completes. Armed only after the connect, libuv 1.44
  // re-adds a descriptor it forgot was registered (ADD, EEXIST, MOD): one syscall more per
  // connection. libuv completes the connect before it reads, so no byte arrives before
  // connected().
  uv_read_start(asStream(&backend_), &Session::onAlloc, &Session::onBackendRead);
}

void Session::discardClientInput() {
  // Closing a socket with unread input makes the kernel send a reset; what the client sent while
  // we looked for a backend is dropped first, so it sees an orderly close (FIN) instead.
  uv_os_fd_t fd;
  if (!clientOpen_ || uv_fileno(asHandle(&client_), &fd) != 0) return;
  auto& buf = listener_->readBuffer_;
  for (int i = 0; i < 16; ++i) {
    if (::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT) <= 0) break;
  }
}

void Session::onConnect(uv_connect_t* req, int status) noexcept {
  auto* s = static_cast<Session*>(req->data);
  if (s->phase_ != Phase::kConnecting) return;  // cancelled: timed out or aborted
  if (status < 0) {
    s->connectFailed(status);
  } else {
    s->connected();
  }
}

void Session::connectTimedOut() {
  if (phase_ == Phase::kConnecting) connectFailed(UV_ETIMEDOUT);
}

void Session::connectFailed(int status) {
  if (target_) {
    spdlog::debug("connect to {} ({}) failed: {}", target_->name, target_->address,
                  uv_strerror(status));
    listener_->pool_.connectFailed(*target_, uv_now(listener_->loop_));
  }
  releaseBackend();
  phase_ = Phase::kRetrying;
  uv_close(asHandle(&backend_), &Session::onBackendClosedForRetry);
}

void Session::onBackendClosedForRetry(uv_handle_t* h) noexcept {
  auto* s = static_cast<Session*>(h->data);
  s->backendOpen_ = false;
  if (s->phase_ == Phase::kClosing) {
    if (!s->clientOpen_) s->listener_->sessionClosed(s);
    return;
  }
  s->connectNext();
}

void Session::connected() {
  phase_ = Phase::kProxying;
  listener_->pool_.connectSucceeded(*target_);
  up_.backendBytes = &target_->bytesIn;
  down_.backendBytes = &target_->bytesOut;
  uv_tcp_nodelay(&backend_, 1);
  lastActivity_ = uv_now(listener_->loop_);
  uv_read_start(asStream(&client_), &Session::onAlloc, &Session::onClientRead);
}

void Session::onAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  auto* s = static_cast<Session*>(h->data);
  auto& b = s->listener_->readBuffer_;
  *buf = uv_buf_init(b.data(), static_cast<unsigned>(b.size()));
}

void Session::onClientRead(uv_stream_t* st, ssize_t n, const uv_buf_t* buf) noexcept {
  auto* s = static_cast<Session*>(st->data);
  s->forward(s->up_, n, buf);
}

void Session::onBackendRead(uv_stream_t* st, ssize_t n, const uv_buf_t* buf) noexcept {
  auto* s = static_cast<Session*>(st->data);
  s->forward(s->down_, n, buf);
}

void Session::forward(Direction& d, ssize_t n, const uv_buf_t* buf) {
  if (phase_ != Phase::kProxying) return;
  if (n > 0) {
    lastActivity_ = uv_now(listener_->loop_);
    *d.bytes += static_cast<uint64_t>(n);
    *d.backendBytes += static_cast<uint64_t>(n);
    const bool last = finFollows(d, n, buf);
    int r = writeNow(d, buf->base, static_cast<size_t>(n), last);
    if (r < 0 && r != UV_EAGAIN) {
      spdlog::debug("write failed: {}", uv_strerror(r));
      abort();
      return;
    }
    if (last) {  // src's FIN, as libuv would report it a turn later; left unread (no data)
      d.eof = true;
      uv_read_stop(d.src);
    }
    if (r == n) {
      if (last) sendShutdown(d);
      return;
    }
    size_t sent = r > 0 ? static_cast<size_t>(r) : 0;
    size_t rest = static_cast<size_t>(n) - sent;
    d.pending = listener_->takeBuffer();
    std::memcpy(d.pending, buf->base + sent, rest);
    uv_read_stop(d.src);  // high watermark: resume once this buffer is flushed
    d.writing = true;
    d.write.data = this;
    uv_buf_t wb = uv_buf_init(d.pending, static_cast<unsigned>(rest));
    int rc = uv_write(&d.write, d.dst, &wb, 1, &Session::onWrite);
    if (rc != 0) {
      listener_->giveBuffer(d.pending);
      d.pending = nullptr;
      d.writing = false;
      abort();
    }
    return;
  }
  if (n == 0) return;
  if (n == UV_EOF) {
    d.eof = true;
    uv_read_stop(d.src);
    if (!d.writing) sendShutdown(d);
    return;
  }
  spdlog::debug("read failed: {}", uv_strerror(static_cast<int>(n)));
  abort();
}

bool Session::finFollows(Direction& d, ssize_t n, const uv_buf_t* buf) {
  // libuv stops reading after a short read and reports the FIN behind it a loop turn later, so
  // the bytes would go out alone and the FIN in a segment of its own: two segments more per
  // connection (with the peer's ACKs) when a server answers and closes. A full read means more
  // is coming; a look that finds the socket empty means the peer keeps the connection open, and
  // the direction stops looking (at most one wasted syscall per connection).
  if (!d.probeFin || static_cast<size_t>(n) == buf->len) return false;
  int fd = fdOf(d.src);
  if (fd < 0) return false;
  char byte;
  ssize_t r = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r < 0) d.probeFin = false;  // empty (EAGAIN), or an error the next read reports
  return r == 0;
}

int Session::writeNow(Direction& d, const char* data, size_t n, bool last) {
  // Precondition: nothing queued on d.dst (its source is not read while a write is queued), so
  // writing to the descriptor directly keeps the byte order, as uv_try_write does.
#ifdef MSG_MORE
  if (last) {
    // MSG_MORE holds the bytes until sendShutdown's FIN (or the rest's write) pushes them.
    int fd = fdOf(d.dst);
    if (fd < 0) return UV_EBADF;
    ssize_t r;
    do {
      r = ::send(fd, data, n, MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    if (r >= 0) return static_cast<int>(r);
    return errno == EAGAIN || errno == EWOULDBLOCK ? UV_EAGAIN : -errno;
  }
#endif
  uv_buf_t b = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(n));
  return uv_try_write(d.dst, &b, 1);
}

void Session::onWrite(uv_write_t* req, int status) noexcept {
  auto* s = static_cast<Session*>(req->data);
  s->writeDone(req == &s->up_.write ? s->up_ : s->down_, status);
}

void Session::writeDone(Direction& d, int status) {
  listener_->giveBuffer(d.pending);
  d.pending = nullptr;
  d.writing = false;
  if (phase_ != Phase::kProxying) return;
  if (status < 0) {
    abort();
    return;
  }
  lastActivity_ = uv_now(listener_->loop_);
  if (d.eof) {
    sendShutdown(d);
  } else {
    uv_read_start(d.src, &Session::onAlloc,
                  &d == &up_ ? &Session::onClientRead : &Session::onBackendRead);
  }
}

void Session::sendShutdown(Direction& d) {
  // Precondition: d's source sent FIN and d has no write in flight (all its bytes are out).
  if (d.shutdownSent) return;
  d.shutdownSent = true;
  Direction& other = &d == &up_ ? down_ : up_;
  if (other.shutdownDone) {
    // Both ways are finished and both sockets were read to EOF: closing sends the last FIN
    // itself, cleanly (no unread data, so no reset), and saves a shutdown call.
    abort();
    return;
  }
  // The write queue is empty, so shut down directly instead of through uv_shutdown (which would
  // arm POLLOUT and wait a loop turn): one syscall, no epoll changes.
  int fd = fdOf(d.dst);
  if (fd < 0 || (::shutdown(fd, SHUT_WR) != 0 && errno != ENOTCONN)) {
    abort();
    return;
  }
  d.shutdownDone = true;
}

void Session::releaseBackend() {
  if (counted_ && target_) --target_->openConnections;
  counted_ = false;
  target_.reset();
}

void Session::abort() {
  if (phase_ == Phase::kClosing) return;
  phase_ = Phase::kClosing;
  releaseBackend();
  if (clientOpen_ && !uv_is_closing(asHandle(&client_)))
    uv_close(asHandle(&client_), &Session::onClosed);
  if (backendOpen_ && !uv_is_closing(asHandle(&backend_))) {
    uv_close(asHandle(&backend_), &Session::onClosed);
  }
}

void Session::onClosed(uv_handle_t* h) noexcept {
  auto* s = static_cast<Session*>(h->data);
  if (h == asHandle(&s->client_)) {
    s->clientOpen_ = false;
  } else {
    s->backendOpen_ = false;
  }
  if (!s->clientOpen_ && !s->backendOpen_) s->listener_->sessionClosed(s);
}

}  // namespace lb
