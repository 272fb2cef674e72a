// See listener.h. One repeating sweep timer replaces a timer per connection: each tick checks
// the connect deadline of connecting sessions and the idle time of proxying ones, so timeouts
// are accurate to one tick (10..100 ms), and the hot path never touches a timer.
#include "load-balancer/proxy/listener.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "load-balancer/proxy/session.h"

namespace lb {

Listener::Listener(uv_loop_t* loop, BackendPool& pool, Balancer& balancer, ListenerOptions opts)
    : loop_(loop), pool_(pool), balancer_(balancer), opts_(opts), readBuffer_(opts.bufferSize) {
  uv_tcp_init(loop_, &server_);
  server_.data = this;
  uv_timer_init(loop_, &sweep_);
  sweep_.data = this;
  uv_timer_init(loop_, &deadline_);
  deadline_.data = this;
  handlesOpen_ = 3;
}

Listener::~Listener() {
  for (char* b : freeBuffers_) delete[] b;
  if (handlesOpen_ > 0) spdlog::error("lb listener destroyed before drain() finished");
}

int Listener::listen(const std::string& host, int port) {
  sockaddr_storage addr{};
  int rc = host.find(':') != std::string::npos
               ? uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr))
               : uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) return rc;
  rc = uv_tcp_bind(&server_, reinterpret_cast<sockaddr*>(&addr), 0);  // libuv sets SO_REUSEADDR
  if (rc != 0) return rc;
  uv_tcp_nodelay(&server_, 1);  // accepted sockets inherit it on Linux: no setsockopt per client
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 4096, &Listener::onConnection);
  if (rc != 0) return rc;
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listening_ = true;
  uint64_t tick = opts_.sweepIntervalMs;
  if (tick == 0) tick = std::clamp<uint64_t>(opts_.connectTimeoutMs / 10, 10, 100);
  uv_timer_start(&sweep_, &Listener::onSweep, tick, tick);
  return 0;
}

void Listener::onConnection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<Listener*>(server->data);
  if (status < 0) {
    if (self->rateLimitedLog()) spdlog::warn("accept failed: {}", uv_strerror(status));
    return;
  }
  self->acceptOne();
}

void Listener::acceptOne() {
  if (draining_) return;
  if (stats_.open >= opts_.maxConnections) {
    // Not accepting makes libuv stop watching the listener until the next uv_accept.
    if (!pendingAccept_)
      spdlog::warn("MAX_CONNECTIONS ({}) reached: accepting paused", opts_.maxConnections);
    pendingAccept_ = true;
    stats_.acceptPaused = true;
    return;
  }
  if (pendingAccept_) spdlog::info("accepting again ({} open)", stats_.open);
  pendingAccept_ = false;
  stats_.acceptPaused = false;
  auto* s = new Session(this);
  s->next = head_;
  if (head_ != nullptr) head_->prev = s;
  head_ = s;
  ++stats_.open;
  ++stats_.accepted;
  s->start(reinterpret_cast<uv_stream_t*>(&server_));
}

void Listener::sessionClosed(Session* s) {
  if (s->prev != nullptr) s->prev->next = s->next;
  if (s->next != nullptr) s->next->prev = s->prev;
  if (head_ == s) head_ = s->next;
  --stats_.open;
  delete s;
  if (pendingAccept_ && !draining_ && stats_.open < opts_.maxConnections) acceptOne();
  maybeFinishDrain();
}

void Listener::onSweep(uv_timer_t* t) noexcept {
  static_cast<Listener*>(t->data)->sweep();
}

void Listener::sweep() {
  const uint64_t now = uv_now(loop_);
  for (Session* s = head_; s != nullptr;) {
    Session* next = s->next;  // sessions are freed only in close callbacks, never here
    if (s->connecting()) {
      if (now >= s->connectDeadlineMs()) s->connectTimedOut();
    } else if (s->proxying() && now - s->lastActivityMs() >= opts_.idleTimeoutMs) {
      ++stats_.idleTimeouts;
      spdlog::debug("closing a connection idle for {} ms", now - s->lastActivityMs());
      s->abort();
    }
    s = next;
  }
}

void Listener::drain(uint64_t deadlineMs, std::function<void()> done) {
  if (draining_) return;
  draining_ = true;
  onDrained_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&server_), &Listener::onHandleClosed);
  if (head_ != nullptr) {
    spdlog::info("draining {} open connections (deadline {} ms)", stats_.open, deadlineMs);
    uv_timer_start(&deadline_, &Listener::onDrainDeadline, deadlineMs, 0);
  }
  maybeFinishDrain();
}

void Listener::onDrainDeadline(uv_timer_t* t) noexcept {
  auto* self = static_cast<Listener*>(t->data);
  spdlog::warn("drain deadline: closing {} connections still open", self->stats_.open);
  for (Session* s = self->head_; s != nullptr; s = s->next) s->abort();
}

void Listener::maybeFinishDrain() {
  if (!draining_ || head_ != nullptr) return;
  for (uv_timer_t* t : {&sweep_, &deadline_}) {
    auto* h = reinterpret_cast<uv_handle_t*>(t);
    if (!uv_is_closing(h)) uv_close(h, &Listener::onHandleClosed);
  }
}

void Listener::onHandleClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<Listener*>(h->data);
  if (--self->handlesOpen_ == 0 && self->onDrained_) {
    auto done = std::move(self->onDrained_);
    self->onDrained_ = nullptr;
    done();  // may destroy the listener
  }
}

char* Listener::takeBuffer() {
  ++stats_.buffersInUse;
  if (freeBuffers_.empty()) return new char[opts_.bufferSize];
  char* b = freeBuffers_.back();
  freeBuffers_.pop_back();
  return b;
}

void Listener::giveBuffer(char* b) {
  if (b == nullptr) return;
  --stats_.buffersInUse;
  if (freeBuffers_.size() < 256) {
    freeBuffers_.push_back(b);
  } else {
    delete[] b;
  }
}

bool Listener::rateLimitedLog() {
  uint64_t now = uv_now(loop_);
  if (lastWarnMs_ != 0 && now - lastWarnMs_ < 1000) return false;
  lastWarnMs_ = now;
  return true;
}

}  // namespace lb
