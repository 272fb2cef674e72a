// db::Hlc: a hybrid logical clock (Kulkarni et al.). A timestamp packs 48 bits of wall-clock
// milliseconds and a 16-bit counter in one uint64, so plain integer order is causal order.
// The Keyspace owns one: now() stamps local writes, observe() absorbs every remote timestamp.
// Loop thread only. The one thing to get right: observe() refuses (does not clamp) a remote
// time more than maxDriftMs ahead of our wall clock, so one node with a clock in the future
// cannot drag every node's clock (and every later write) with it; the caller logs the refusal
// and the mutation is retried later (live stream / anti-entropy) once clocks agree.
#pragma once

#include <cstdint>
#include <functional>

#include "common/core/result.h"

namespace db {

class Hlc {
 public:
  using WallClock = std::function<uint64_t()>;  // milliseconds since the Unix epoch

  static constexpr uint64_t kCounterBits = 16;
  static constexpr uint64_t kCounterMask = (uint64_t{1} << kCounterBits) - 1;
  static constexpr uint64_t kMaxMillis = (uint64_t{1} << 48) - 1;
  static constexpr uint64_t kDefaultMaxDriftMs = 500;  // CockroachDB's default max offset

  static constexpr uint64_t pack(uint64_t millis, uint64_t counter) {
    return (millis << kCounterBits) | (counter & kCounterMask);
  }
  static constexpr uint64_t millis(uint64_t ts) { return ts >> kCounterBits; }
  static constexpr uint64_t counter(uint64_t ts) { return ts & kCounterMask; }

  // wall: the physical clock (default: system_clock); tests inject their own.
  explicit Hlc(uint64_t maxDriftMs = kDefaultMaxDriftMs, WallClock wall = {});

  // A timestamp for a local event, strictly greater than every one returned or observed before.
  uint64_t now();

  // Absorbs a remote timestamp (on receive). Returns the clock's new value (greater than both
  // `remote` and everything before), or CLOCK_DRIFT when `remote` is more than maxDriftMs ahead
  // of the wall clock (the clock is then left unchanged).
  common::Result<uint64_t> observe(uint64_t remote);
  // observe() without the drift check, for timestamps this node already accepted once (its own
  // log replayed at start): refusing them would lose data when the wall clock went back.
  uint64_t absorb(uint64_t ts);

  uint64_t last() const { return pack(l_, c_); }  // the latest timestamp issued or observed
  uint64_t maxDriftMs() const { return maxDriftMs_; }
  uint64_t wallMs() const;

 private:
  void bumpCounter();

  uint64_t maxDriftMs_;
  WallClock wall_;
  uint64_t l_ = 0;  // logical millis
  uint64_t c_ = 0;  // counter within l_
};

}  // namespace db
