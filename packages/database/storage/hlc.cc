// See hlc.h. The receive rule follows Kulkarni et al. (2014), "Logical Physical Clocks", Fig. 5.
#include "database/storage/hlc.h"

#include <algorithm>
#include <chrono>

namespace db {

Hlc::Hlc(uint64_t maxDriftMs, WallClock wall) : maxDriftMs_(maxDriftMs), wall_(std::move(wall)) {}

uint64_t Hlc::wallMs() const {
  if (wall_) return std::min(wall_(), kMaxMillis);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return std::min(static_cast<uint64_t>(ms), kMaxMillis);
}

void Hlc::bumpCounter() {
  if (c_ < kCounterMask) {
    ++c_;
    return;
  }
  // 65536 events within one millisecond: borrow the next millisecond rather than wrap.
  ++l_;
  c_ = 0;
}

uint64_t Hlc::now() {
  uint64_t wall = wallMs();
  if (wall > l_) {
    l_ = wall;
    c_ = 0;
  } else {
    bumpCounter();
  }
  return pack(l_, c_);
}

common::Result<uint64_t> Hlc::observe(uint64_t remote) {
  uint64_t wall = wallMs();
  uint64_t rl = millis(remote);
  if (rl > wall + maxDriftMs_) {
    return common::Error{"CLOCK_DRIFT", "remote clock " + std::to_string(rl - wall) +
                                            " ms ahead of ours (max " +
                                            std::to_string(maxDriftMs_) + " ms)"};
  }
  return absorb(remote);
}

uint64_t Hlc::absorb(uint64_t remote) {
  uint64_t wall = wallMs();
  uint64_t rl = millis(remote);
  uint64_t rc = counter(remote);
  uint64_t l = std::max({l_, rl, wall});
  if (l == l_ && l == rl) {
    c_ = std::max(c_, rc);
    bumpCounter();
  } else if (l == l_) {
    bumpCounter();
  } else if (l == rl) {
    l_ = rl;
    c_ = rc;
    bumpCounter();
  } else {
    l_ = l;
    c_ = 0;
  }
  return pack(l_, c_);
}

}  // namespace db
