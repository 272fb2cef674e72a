// See expiry_sweeper.h.
#include "database/core/expiry_sweeper.h"

#include <spdlog/spdlog.h>

#include <string>

#include "common/http/json.h"

namespace db {

ExpirySweeper::ExpirySweeper(uv_loop_t* loop, Keyspace& keyspace, WriteLog& log)
    : keyspace_(keyspace), log_(log) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  // The timer keeps no loop alive on its own (the server does).
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
}

ExpirySweeper::~ExpirySweeper() = default;

void ExpirySweeper::start() {
  started_ = true;
  uv_timer_start(&timer_, &ExpirySweeper::onTimer, kPeriodMs, 0);
}

void ExpirySweeper::close(std::function<void()> done) {
  started_ = false;
  closed_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<ExpirySweeper*>(h->data);
    auto done = std::move(self->closed_);
    if (done) done();
  });
}

void ExpirySweeper::onTimer(uv_timer_t* t) noexcept {
  auto* self = static_cast<ExpirySweeper*>(t->data);
  uint64_t next = self->runSlice();
  if (self->started_) uv_timer_start(&self->timer_, &ExpirySweeper::onTimer, next, 0);
}

uint64_t ExpirySweeper::nextDelayMs(const ExpirySweep& s) {
  bool many = s.dropped > 0 && s.dropped * 4 > s.examined;
  return many && !s.done ? 0 : kPeriodMs;
}

uint64_t ExpirySweeper::runSlice() {
  if (!keyspace_.expiryDue()) return kPeriodMs;
  ++cycles_;
  ExpirySweep s = keyspace_.sweepExpired(kSliceExamined, [&](const RecordView& r) {
    log_.append(LogEntry{Mutation::Kind::kDelete, r.key, {}, r.hlc, r.origin, r.collection},
                Source::kExpiry);
  });
  if (s.dropped > 0)
    spdlog::debug("expiry: dropped {} of {} records examined", s.dropped, s.examined);
  return nextDelayMs(s);
}

void ExpirySweeper::appendStatus(std::string& out) const {
  namespace json = common::json;
  out.append(",\"expiry\":{\"expiring\":");
  json::appendUint(out, keyspace_.expiring());
  out.append(",\"expired\":");
  json::appendUint(out, keyspace_.expiredDropped());
  out.append(",\"sweepCycles\":");
  json::appendUint(out, cycles_);
  out.push_back('}');
}

}  // namespace db
