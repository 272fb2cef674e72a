// db::ExpirySweeper: the active half of key expiry (docs/ttl.md), after Redis's active expire
// cycle. Reads already hide an expired record from the moment it expires; this class gives its
// memory back. A uv timer fires every kPeriodMs; while the keyspace says something is due
// (Keyspace::expiryDue), each firing runs one slice (Keyspace::sweepExpired, at most
// kSliceExamined records looked at: about a millisecond of loop), and when a slice found more
// than a quarter of what it examined expired, the next slice runs on the next loop turn instead
// of 100 ms later. Every dropped record is appended to the write log as Source::kExpiry, which
// only the watch hub takes (an `expire` event): the disk and the peers do not need it.
// The Node owns it; loop thread only. The one thing to get right: the keyspace drops only
// records below its expiry horizon (the mesh's), so a record that expired may stay a while;
// that is why the timer keeps firing while anything is due, but repeats only on real progress.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "database/core/write_log.h"
#include "database/storage/keyspace.h"

namespace db {

class ExpirySweeper {
 public:
  static constexpr uint64_t kPeriodMs = 100;
  static constexpr size_t kSliceExamined = 4096;

  ExpirySweeper(uv_loop_t* loop, Keyspace& keyspace, WriteLog& log);
  ~ExpirySweeper();
  ExpirySweeper(const ExpirySweeper&) = delete;
  ExpirySweeper& operator=(const ExpirySweeper&) = delete;

  void start();
  // Stops the timer and closes its handle; done runs on the loop once it is closed.
  void close(std::function<void()> done);

  // Runs one slice now (what the timer does). Returns when the next one should run (ms).
  uint64_t runSlice();
  // Redis's rule: the next slice comes at once (0) when this one dropped more than a quarter of
  // what it examined and did not reach the end of the store; otherwise after kPeriodMs.
  static uint64_t nextDelayMs(const ExpirySweep& slice);

  uint64_t cycles() const { return cycles_; }  // slices run
  // /status: "expiry":{"expiring":N,"expired":N,"sweepCycles":N}.
  void appendStatus(std::string& out) const;

 private:
  static void onTimer(uv_timer_t* t) noexcept;

  Keyspace& keyspace_;
  WriteLog& log_;
  uv_timer_t timer_;
  bool started_ = false;
  std::function<void()> closed_;
  uint64_t cycles_ = 0;
};

}  // namespace db
