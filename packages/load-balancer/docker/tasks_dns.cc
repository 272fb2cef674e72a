// See tasks_dns.h. The getaddrinfo request lives in this object: close() cancels it when it has
// not started yet and otherwise waits for its callback, so the callback never sees freed memory.
#include "load-balancer/docker/tasks_dns.h"

#include <netdb.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <set>
#include <vector>

namespace lb {

TasksDns::TasksDns(uv_loop_t* loop, BackendPool& pool, TasksDnsOptions opts)
    : loop_(loop), pool_(pool), opts_(std::move(opts)) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  req_.data = this;
}

TasksDns::~TasksDns() {
  if (timerOpen_ || resolving_) spdlog::error("tasks DNS destroyed before close()");
}

void TasksDns::start() {
  resolve();
}

void TasksDns::close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  onClosed_ = std::move(done);
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(&req_));
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &TasksDns::onTimerClosed);
}

void TasksDns::onTimerClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<TasksDns*>(h->data);
  self->timerOpen_ = false;
  self->maybeClosed();
}

void TasksDns::maybeClosed() {
  if (!closing_ || timerOpen_ || resolving_ || !onClosed_) return;
  auto done = std::move(onClosed_);
  onClosed_ = nullptr;
  done();
}

void TasksDns::onTimer(uv_timer_t* t) noexcept {
  static_cast<TasksDns*>(t->data)->resolve();
}

void TasksDns::resolve() {
  if (closing_ || resolving_) return;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uv_getaddrinfo(loop_, &req_, &TasksDns::onResolved, opts_.name.c_str(), nullptr, &hints);
  if (rc != 0) {
    spdlog::warn("swarm dns: cannot resolve {}: {}", opts_.name, uv_strerror(rc));
    uv_timer_start(&timer_, &TasksDns::onTimer, opts_.intervalMs, 0);
    return;
  }
  resolving_ = true;
}

void TasksDns::onResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
  auto* self = static_cast<TasksDns*>(req->data);
  self->resolving_ = false;
  if (!self->closing_) self->apply(status, res);
  uv_freeaddrinfo(res);
  if (self->closing_) return self->maybeClosed();
  uv_timer_start(&self->timer_, &TasksDns::onTimer, self->opts_.intervalMs, 0);
}

void TasksDns::apply(int status, addrinfo* res) {
  ++lookups_;
  if (status != 0 && status != UV_EAI_NONAME && status != UV_EAI_NODATA) {
    std::string why = uv_strerror(status);
    if (why != lastError_)
      spdlog::warn("swarm dns: {}: {}; keeping the last backends", opts_.name, why);
    lastError_ = why;
    return;
  }
  lastError_.clear();
  std::set<std::string> ids;
  for (addrinfo* a = status == 0 ? res : nullptr; a != nullptr; a = a->ai_next) {
    sockaddr_storage addr{};
    std::memcpy(&addr, a->ai_addr, a->ai_addrlen);
    if (addr.ss_family == AF_INET)
      reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(static_cast<uint16_t>(opts_.port));
    else if (addr.ss_family == AF_INET6)
      reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(static_cast<uint16_t>(opts_.port));
    else
      continue;
    std::string address = formatAddress(addr);
    std::string id = opts_.name + "/" + address;
    if (!ids.insert(id).second) continue;
    if (pool_.find(id) == nullptr) pool_.upsert(id, address, addr, BackendState::kReady);
  }
  std::vector<std::string> gone;
  for (const auto& b : pool_.all()) {
    if (!ids.count(b->id)) gone.push_back(b->id);
  }
  for (const auto& id : gone) pool_.remove(id);
}

}  // namespace lb
