// See health_checker.h. A check is a heap object holding its uv_tcp_t; it is freed in the
// handle's close callback. A check still connecting at its deadline is closed, which makes
// libuv cancel the connect (UV_ECANCELED) and counts as a failure.
#include "load-balancer/proxy/health_checker.h"

#include <spdlog/spdlog.h>

namespace lb {

struct HealthChecker::Check {
  HealthChecker* owner;
  std::shared_ptr<Backend> backend;
  uv_tcp_t tcp;
  uv_connect_t req;
  uint64_t deadline = 0;
  bool done = false;
  Check* prev = nullptr;
  Check* next = nullptr;
};

HealthChecker::HealthChecker(uv_loop_t* loop, BackendPool& pool, HealthCheckOptions opts)
    : loop_(loop), pool_(pool), opts_(opts) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

HealthChecker::~HealthChecker() {
  if (!timerClosed_) spdlog::error("health checker destroyed before close() finished");
}

void HealthChecker::start() {
  uint64_t tick = std::min<uint64_t>(opts_.intervalMs, 100);
  uv_timer_start(&timer_, &HealthChecker::onTick, 0, tick);
}

void HealthChecker::onTick(uv_timer_t* t) noexcept {
  static_cast<HealthChecker*>(t->data)->tick();
}

void HealthChecker::tick() {
  const uint64_t now = uv_now(loop_);
  // Expire checks past their deadline.
  for (Check* c = running_; c != nullptr; c = c->next) {
    if (!c->done && now >= c->deadline) finishCheck(c, false);
  }
  // Start a check for each backend whose previous one is over and whose interval elapsed.
  static constexpr uint64_t kNever = 0;
  for (const auto& b : pool_.all()) {
    bool busy = false;
    for (Check* c = running_; c != nullptr; c = c->next) busy |= c->backend == b;
    if (busy) continue;
    auto& last = lastStart_[b.get()];
    if (last != kNever && now - last < opts_.intervalMs) continue;
    last = now;
    auto* c = new Check{this, b, {}, {}, now + std::min(opts_.timeoutMs, opts_.intervalMs)};
    uv_tcp_init(loop_, &c->tcp);
    c->tcp.data = c;
    c->req.data = c;
    c->next = running_;
    if (running_ != nullptr) running_->prev = c;
    running_ = c;
    ++checksOpen_;
    ++checksRun_;
    int rc = uv_tcp_connect(&c->req, &c->tcp, b->sockAddr(), &HealthChecker::onConnect);
    if (rc != 0) finishCheck(c, false);
  }
  // Forget backends that left the pool.
  for (auto it = lastStart_.begin(); it != lastStart_.end();) {
    bool present = false;
    for (const auto& b : pool_.all()) present |= b.get() == it->first;
    it = present ? std::next(it) : lastStart_.erase(it);
  }
}

void HealthChecker::onConnect(uv_connect_t* req, int status) noexcept {
  auto* c = static_cast<Check*>(req->data);
  if (c->done) return;
  c->owner->finishCheck(c, status == 0);
}

void HealthChecker::finishCheck(Check* c, bool ok) {
  c->done = true;
  if (!closing_) record(*c->backend, ok);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &HealthChecker::onCheckClosed);
}

void HealthChecker::record(Backend& b, bool ok) {
  if (ok) {
    b.checkFailures = 0;
    ++b.checkSuccesses;
    if (!b.checkUp && b.checkSuccesses >= opts_.rise) {
      b.checkUp = true;
      spdlog::info("backend {} is UP (passed {} checks)", b.name, b.checkSuccesses);
      pool_.checksChanged();
    }
  } else {
    b.checkSuccesses = 0;
    ++b.checkFailures;
    if (b.checkUp && b.checkFailures >= opts_.fall) {
      b.checkUp = false;
      spdlog::warn("backend {} is DOWN (failed {} checks)", b.name, b.checkFailures);
      pool_.checksChanged();
    }
  }
}

void HealthChecker::onCheckClosed(uv_handle_t* h) noexcept {
  auto* c = static_cast<Check*>(h->data);
  HealthChecker* self = c->owner;
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (self->running_ == c) self->running_ = c->next;
  --self->checksOpen_;
  delete c;
  self->maybeDone();
}

void HealthChecker::close(std::function<void()> done) {
  closing_ = true;
  onClosed_ = std::move(done);
  for (Check* c = running_; c != nullptr; c = c->next) {
    if (!c->done) finishCheck(c, false);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &HealthChecker::onTimerClosed);
}

void HealthChecker::onTimerClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<HealthChecker*>(h->data);
  self->timerClosed_ = true;
  self->maybeDone();
}

void HealthChecker::maybeDone() {
  if (!closing_ || !timerClosed_ || checksOpen_ > 0 || !onClosed_) return;
  auto done = std::move(onClosed_);
  onClosed_ = nullptr;
  done();
}

}  // namespace lb
