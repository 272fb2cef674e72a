// See rate_history.h.
#include "load-balancer/admin/rate_history.h"

#include <fmt/format.h>

#include "common/http/json.h"

namespace lb {

RateHistory::RateHistory(uv_loop_t* loop, const BackendPool& pool, uint64_t intervalMs, size_t keep)
    : loop_(loop), pool_(pool), intervalMs_(intervalMs), keep_(keep) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

void RateHistory::start() {
  uv_timer_start(&timer_, &RateHistory::onTick, 0, intervalMs_);
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));  // never what keeps the loop alive
}

void RateHistory::close(std::function<void()> done) {
  onClosed_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<RateHistory*>(h->data);
    if (self->onClosed_) self->onClosed_();
  });
}

void RateHistory::onTick(uv_timer_t* t) noexcept {
  static_cast<RateHistory*>(t->data)->tick();
}

void RateHistory::tick() {
  ++ticks_;
  const double seconds = static_cast<double>(intervalMs_) / 1000.0;
  for (const auto& b : pool_.all()) {
    const uint64_t bytes = b->bytesIn + b->bytesOut;
    auto [it, fresh] = series_.try_emplace(b->id);
    Series& s = it->second;
    if (!fresh) {
      s.points.push_back({static_cast<double>(bytes - s.bytes) / seconds,
                          static_cast<double>(b->totalConnections - s.connections) / seconds});
      if (s.points.size() > keep_) s.points.pop_front();
    }
    s.bytes = bytes;
    s.connections = b->totalConnections;
    s.tick = ticks_;
  }
  std::erase_if(series_, [this](const auto& kv) { return kv.second.tick != ticks_; });
}

void RateHistory::appendJson(std::string& out) const {
  out += ",\"history\":{\"intervalMs\":";
  common::json::appendUint(out, intervalMs_);
  out += ",\"backends\":{";
  bool first = true;
  for (const auto& [id, s] : series_) {
    if (!first) out += ',';
    first = false;
    common::json::appendString(out, id);
    out += ":[";
    for (size_t i = 0; i < s.points.size(); ++i) {
      if (i > 0) out += ',';
      fmt::format_to(std::back_inserter(out), "[{:.0f},{:.2f}]", s.points[i].bytesPerSec,
                     s.points[i].connectionsPerSec);
    }
    out += ']';
  }
  out += "}}";
}

}  // namespace lb
