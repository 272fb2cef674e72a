// AckWaiters: see ack_waiters.h.
#include "database/mesh/ack_waiters.h"

#include <algorithm>

namespace db {

void AckWaiters::add(uint64_t seq, int needed, int acked, std::vector<std::string> waitingFor,
                     uint64_t deadlineMs, Done done) {
  waiters_.push_back(
      Waiter{seq, needed, acked, std::move(waitingFor), deadlineMs, std::move(done)});
}

void AckWaiters::ack(const std::string& peerId, uint64_t seq) {
  for (auto& w : waiters_) {
    if (w.seq > seq) continue;
    auto pos = std::find(w.waitingFor.begin(), w.waitingFor.end(), peerId);
    if (pos != w.waitingFor.end()) {
      w.waitingFor.erase(pos);
      ++w.acked;
    }
  }
  finish([](const Waiter& w) { return w.acked >= w.needed; }, true);
}

void AckWaiters::peerGone(const std::string& peerId) {
  for (auto& w : waiters_) {
    auto pos = std::find(w.waitingFor.begin(), w.waitingFor.end(), peerId);
    if (pos == w.waitingFor.end()) continue;
    w.waitingFor.erase(pos);
    w.needed = std::min(w.needed, w.acked + static_cast<int>(w.waitingFor.size()));
    w.needed = std::max(w.needed, 1);
  }
  finish([](const Waiter& w) { return w.acked >= w.needed; }, true);
}

void AckWaiters::expire(uint64_t nowMs) {
  finish([nowMs](const Waiter& w) { return w.deadlineMs <= nowMs; }, false);
}

void AckWaiters::failAll() {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) w.done(false, w.acked);
}

uint64_t AckWaiters::earliestDeadline() const {
  uint64_t earliest = UINT64_MAX;
  for (const auto& w : waiters_) earliest = std::min(earliest, w.deadlineMs);
  return earliest;
}

void AckWaiters::finish(const std::function<bool(const Waiter&)>& finished, bool ok) {
  std::vector<Waiter> done;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (finished(*it)) {
      done.push_back(std::move(*it));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& w : done) w.done(ok, w.acked);
}

}  // namespace db
